"""A result's raw data as one raw.tar.xz: packed at a run's end, read by --report-from as raw/ was."""

import json
import os

import pytest

from spbench import archive, cli
from helpers import run
from test_report import meta


def result_dir(path, n=3):
    """A result directory as a run leaves it before packing: meta.json, raw/*.json, plots/."""
    os.makedirs(path / "raw")
    os.makedirs(path / "plots")
    runs = []
    for rep in range(1, n + 1):
        for p, tp, cpu, mach in (("direct", 25.0, None, 0.5), ("proxy-rw", 13.0 + rep, 0.49, 0.85),
                                 ("haproxy", 14.6, 0.40, 0.78)):
            r = run(p, "iperf3-P1", rep, tp=tp, cpu=cpu, machine=mach)
            r["seq"] = len(runs) + 1
            r["id"] = f"{r['seq']:04d}-{r['id']}"
            r["finished_at"] = "2026-12-01T07:30:00+00:00"
            runs.append(r)
            (path / "raw" / f"{r['id']}.json").write_text(json.dumps(dict(r, raw={"client_output": "x"})))
    (path / "plots" / "tp-iperf3-P1.dat").write_text("1 2 3\n")
    m = meta(["direct", "proxy-rw", "haproxy"], ["iperf3-P1"], [])
    m["config"].update(workers=[1], paths=["direct", "proxy-rw", "haproxy"], size_sweep_paths=[], sizes=[])
    (path / "meta.json").write_text(json.dumps(m))
    return runs


def test_pack_leaves_one_archive_and_is_the_same_bytes_for_the_same_data(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    result_dir(a)
    result_dir(b)
    os.utime(b / "raw", (1, 1))  # other times, same content
    pa, pb = archive.pack(str(a)), archive.pack(str(b))
    assert sorted(os.listdir(a)) == ["meta.json", "raw.tar.xz"]
    assert open(pa, "rb").read() == open(pb, "rb").read()
    assert archive.pack(str(a)) is None  # nothing left to pack


def test_unpacked_reads_the_archive_into_a_temporary_folder_and_leaves_it_alone(tmp_path):
    runs = result_dir(tmp_path)
    archive.pack(str(tmp_path))
    before = (tmp_path / "raw.tar.xz").read_bytes()
    with archive.unpacked(str(tmp_path)) as root:
        assert root != str(tmp_path)
        assert [r["id"] for r in cli.load_runs(root)] == [r["id"] for r in runs]
        assert os.listdir(os.path.join(root, "plots")) == ["tp-iperf3-P1.dat"]
    assert not os.path.exists(root)
    assert (tmp_path / "raw.tar.xz").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["meta.json", "raw.tar.xz"]


def test_a_folder_with_raw_is_read_in_place(tmp_path):
    result_dir(tmp_path)
    with archive.unpacked(str(tmp_path)) as root:
        assert root == str(tmp_path)


def test_report_from_the_archive_is_the_report_from_raw(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    result_dir(a)
    result_dir(b)
    archive.pack(str(b))
    assert cli.main(["--report-from", str(a)]) == 0
    assert cli.main(["--report-from", str(b)]) == 0
    assert (a / "report.md").read_text() == (b / "report.md").read_text()
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    assert sa == sb and len(sa["runs"]) == 9
    assert "raw.tar.xz" in (b / "report.md").read_text()
    assert not (b / "raw").exists() and not (b / "plots").exists()  # the archive was only read


def test_an_archive_with_a_path_outside_is_refused(tmp_path):
    import io
    import tarfile
    with tarfile.open(tmp_path / "raw.tar.xz", "w:xz") as tar:
        data = b"{}"
        info = tarfile.TarInfo("../evil.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(ValueError):
        with archive.unpacked(str(tmp_path)):
            pass
