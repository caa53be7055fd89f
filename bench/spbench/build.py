"""Getting what a bench tool runs: missing Debian tools (apt-get), our binaries built from the
work tree or from a clean export of a git revision."""

import os
import shutil
import subprocess
import sys

from .util import NCPU, REPO, log


def ensure_tools(need):
    missing = [pkg for tool, pkg in need if not shutil.which(tool)]
    if not missing:
        return
    log(f"installing missing tools: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(["apt-get", "update"], env=env, timeout=300, check=False,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends"] + missing, env=env,
                       timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        log(f"apt-get failed: {e}")


def run_quiet(argv, timeout):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        sys.stderr.write((r.stdout + r.stderr)[-4000:])
        raise subprocess.CalledProcessError(r.returncode, argv)


TARGETS = ("proxy", "tcp_ping_server", "tcp_ping_client")


def git(*argv):
    return subprocess.run(["git", "-C", REPO] + list(argv), capture_output=True, text=True,
                          check=True).stdout.strip()


def build_rev(rev, cache):
    """Builds the benchmarked targets from a clean export of git revision `rev` (nobody's
    uncommitted work), once per commit, in cache/<commit>/. Returns the bin directory and the full
    commit id; exits with the build's output tail if it fails."""
    try:
        commit = git("rev-parse", "--verify", rev + "^{commit}")
    except subprocess.CalledProcessError as e:
        sys.exit(f"no such git revision '{rev}': {e.stderr.strip()}")
    dst = os.path.join(cache, commit[:12])
    bindir = os.path.join(dst, "build", "bin")
    if all(os.access(os.path.join(bindir, b), os.X_OK) for b in TARGETS):
        log(f"binaries of {commit[:12]} from {bindir}")
        return bindir, commit
    log(f"building {commit[:12]} from a clean export in {dst} (a few minutes on 2 cores)")
    src = os.path.join(dst, "src")
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(src)
    archive = subprocess.Popen(["git", "-C", REPO, "archive", commit], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", src], stdin=archive.stdout, check=True, timeout=300)
    archive.stdout.close()
    if archive.wait(timeout=60) != 0:
        sys.exit(f"git archive {rev} failed")
    bdir = os.path.join(dst, "build")
    try:
        run_quiet(["cmake", "-S", src, "-B", bdir, "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_TESTING=OFF"], 600)
        run_quiet(["nice", "cmake", "--build", bdir, "-j", str(min(2, NCPU)), "--target", *TARGETS], 1800)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        sys.exit(f"building {commit[:12]} failed: {e}")
    return bindir, commit


def ensure_build(args):
    bins = [os.path.join(args.bin_dir, b) for b in ("proxy", "tcp_ping_server")]
    build_dir = os.path.dirname(os.path.abspath(args.bin_dir))
    have = all(os.access(b, os.X_OK) for b in bins)
    if args.no_build and have:
        return
    log(f"building in {build_dir} (cmake, Release)")
    try:
        if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
            run_quiet(["cmake", "-S", REPO, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release"], 600)
        # only what the bench runs: not the test suites
        run_quiet(["cmake", "--build", build_dir, "-j", str(min(2, NCPU)), "--target", *TARGETS], 1800)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        if have:
            log(f"WARNING: build failed ({e}); using the existing binaries in {args.bin_dir}")
        else:
            sys.exit(f"build failed and no binaries in {args.bin_dir}: {e}")

