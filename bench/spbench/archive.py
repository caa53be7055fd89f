"""A result directory's raw data as ONE compressed archive, raw.tar.xz, beside the files a reader
opens (report.md, NOTES.md, meta.json, summary.json, the PNGs): a full run writes ~475 per-run JSON
files, which in git would drown the code. A run packs raw/ (and the plots' data, plots/) at its end;
--report-from reads the archive as it would read raw/, without changing it."""

import contextlib
import os
import shutil
import tarfile
import tempfile

ARCHIVE = "raw.tar.xz"
PACKED = ("raw", "plots")  # what a run packs: per-run JSON, the plots' .dat and .gp


def _normalized(info):
    """The same bytes in, the same archive out: no owners, times or modes of this machine."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    info.mode = 0o755 if info.isdir() else 0o644
    return info


def pack(out, dirs=PACKED):
    """Moves out/<dir> for each of dirs that exists into out/raw.tar.xz (sorted, normalized), then
    removes them. Returns the archive's path, or None when there was nothing to pack."""
    present = [d for d in dirs if os.path.isdir(os.path.join(out, d))]
    if not present:
        return None
    path = os.path.join(out, ARCHIVE)
    tmp = path + ".part"
    with tarfile.open(tmp, "w:xz", format=tarfile.PAX_FORMAT) as tar:
        for d in present:
            root = os.path.join(out, d)
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames.sort()
                rel = os.path.relpath(dirpath, out)
                tar.add(dirpath, arcname=rel, recursive=False, filter=_normalized)
                for name in sorted(filenames):
                    tar.add(os.path.join(dirpath, name), arcname=os.path.join(rel, name), filter=_normalized)
    os.replace(tmp, path)
    for d in present:
        shutil.rmtree(os.path.join(out, d))
    return path


def _extract(path, dest):
    with tarfile.open(path, "r:xz") as tar:
        for m in tar.getmembers():
            target = os.path.realpath(os.path.join(dest, m.name))
            if not (m.isfile() or m.isdir()) or not target.startswith(os.path.realpath(dest) + os.sep):
                raise ValueError(f"{path}: unexpected member {m.name!r}")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)


@contextlib.contextmanager
def unpacked(out):
    """The directory that holds a result's raw/ (and plots/, when packed): out itself while raw/ is
    a folder there (a run in progress, or one from before the archive), else a temporary copy of
    raw.tar.xz's contents, removed afterwards. The archive is only read."""
    if os.path.isdir(os.path.join(out, "raw")) or not os.path.exists(os.path.join(out, ARCHIVE)):
        yield out
        return
    tmp = tempfile.mkdtemp(prefix="spbench-raw-")
    try:
        _extract(os.path.join(out, ARCHIVE), tmp)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
