"""spcore.children: processes started by role, their output in files, ended by PID."""

import os
import signal
import time

import pytest

from spcore.children import Children, shell_rc, tail, wait_rusage


class CannotStart(Exception):
    pass


def test_shell_rc():
    assert shell_rc(None) is None
    assert shell_rc(0) == 0 and shell_rc(3) == 3
    assert shell_rc(-signal.SIGTERM) == 143 and shell_rc(-signal.SIGKILL) == 137


def test_launch_reap_and_the_output_files(tmp_path):
    kids = Children()
    p = kids.launch("echo", ["sh", "-c", "echo out; echo err >&2; exit 3"], str(tmp_path / "o"), str(tmp_path / "e"))
    assert p.name == "echo" and p.out_path.endswith("o")
    assert kids.reap("echo", 5)
    assert kids.rc("echo") == 3 and not kids.alive("echo")
    assert (tmp_path / "o").read_text() == "out\n" and tail(str(tmp_path / "e")) == "err\n"


def test_stop_by_role_or_by_popen_ends_it_by_pid(tmp_path):
    kids = Children()
    a = kids.start("a", ["sleep", "30"], str(tmp_path / "a"))
    b = kids.start("b", ["sleep", "30"], str(tmp_path / "b"))
    assert kids.alive("a") and kids.pid("a") == a.pid
    assert kids.stop("a", signal.SIGTERM, 5) == -signal.SIGTERM
    assert kids.rc("a") == 143
    assert kids.stop(b, timeout=5) == -signal.SIGTERM   # a Popen of ours, as the bench passes it
    assert kids.stop(None) is None and kids.stop("never") is None


def test_one_that_ignores_sigterm_is_killed_and_its_threads_written(tmp_path):
    kids = Children()
    kids.launch("stubborn", ["sh", "-c", "trap '' TERM; echo up; sleep 30"], str(tmp_path / "o"), str(tmp_path / "e"))
    deadline = time.monotonic() + 5
    while (tmp_path / "o").read_text() != "up\n" and time.monotonic() < deadline:
        time.sleep(0.02)
    kids.stop("stubborn", signal.SIGTERM, 0.3, hang_dir=str(tmp_path))
    assert kids.rc("stubborn") == "killed"
    assert "tid " in (tmp_path / "stubborn.hang.txt").read_text()


def test_stop_all_and_niceness(tmp_path):
    kids = Children(niceness=5)
    for role in ("x", "y"):
        kids.start(role, ["sleep", "30"], str(tmp_path / role))
    assert kids.procs["x"].argv[:3] == ["nice", "-n", "5"]
    kids.stop_all(timeout=5)
    assert not kids.alive("x") and not kids.alive("y")


def test_a_program_that_cannot_start(tmp_path):
    with pytest.raises(OSError):
        Children().start("none", [str(tmp_path / "missing")], str(tmp_path / "n"))
    with pytest.raises(CannotStart, match="cannot start none"):
        Children(start_error=CannotStart).start("none", [str(tmp_path / "missing")], str(tmp_path / "n"))


def test_wait_rusage_returns_the_childs_own_cpu(tmp_path):
    kids = Children()
    p = kids.start("busy", ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"], str(tmp_path / "b"))
    ru = wait_rusage(p, 20)
    assert ru is not None and ru["user_s"] + ru["sys_s"] > 0
    assert p.returncode == 0 and kids.stop(p) == 0
    assert wait_rusage(p, 0) == ru
    assert os.path.exists(p.err_path)
