"""The processes a tool starts, by role: each in its own session (a Ctrl-C in the terminal reaches
only the tool, which then stops them in order) with its output in files, recorded by PID and ended
by PID (SIGTERM, then SIGKILL after a grace period), never by name."""

import os
import signal
import subprocess
import time

from . import procfs


def shell_rc(returncode):
    """An exit code as a shell reports it: a death by signal N is 128 + N."""
    if returncode is None:
        return None
    return 128 - returncode if returncode < 0 else returncode


def tail(path, n=2000):
    """The last n bytes of a log file as text ("" if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - n))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


class Children:
    """role -> the last process started under that role. A process's Popen carries name (its
    role), argv, out_path and err_path."""

    def __init__(self, niceness=0, log=None, start_error=None):
        self.niceness = niceness
        self.log = log or (lambda msg: None)
        self.start_error = start_error  # start() raises this instead of OSError (the caller's own type)
        self.procs = {}  # role -> Popen
        self.rcs = {}    # role -> exit code (as a shell reports it) once reaped, or "killed"

    def launch(self, role, argv, out_path, err_path, err_mode="w", cwd=None):
        """Starts argv with stdout and stderr in files; raises OSError when it cannot start."""
        if self.niceness:
            argv = ["nice", "-n", str(self.niceness)] + list(argv)
        with open(out_path, "w") as out, open(err_path, err_mode) as err:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                 start_new_session=True, cwd=cwd)
        p.name, p.argv, p.out_path, p.err_path = role, argv, out_path, err_path
        self.procs[role] = p
        self.rcs.pop(role, None)
        return p

    def start(self, role, argv, log_base, cwd=None):
        """launch() with the output in log_base + ".out" / ".err"; a program that cannot start at
        all raises start_error (when given) with the reason."""
        try:
            return self.launch(role, argv, log_base + ".out", log_base + ".err", cwd=cwd)
        except OSError as e:
            if self.start_error is None:
                raise
            raise self.start_error(f"cannot start {role} ({argv[0]}): {e}")

    def _role(self, who):
        """A role, or the role of a Popen we started (None: not ours, or not running any more)."""
        if isinstance(who, str):
            return who if who in self.procs else None
        for role, p in self.procs.items():
            if p is who:
                return role
        return None

    def pid(self, role):
        p = self.procs.get(role)
        return p.pid if p else None

    def alive(self, role):
        p = self.procs.get(role)
        return p is not None and role not in self.rcs and p.poll() is None

    def signal(self, role, sig):
        if self.alive(role):
            try:
                os.kill(self.procs[role].pid, sig)
            except ProcessLookupError:
                pass

    def reap(self, role, timeout):
        """Waits (bounded) for role to exit and records its exit code; False if it still runs."""
        p = self.procs.get(role)
        if p is None or role in self.rcs:
            return True
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        self.rcs[role] = shell_rc(p.returncode)
        return True

    def finish(self, role, timeout, hang_dir=None):
        """Reaps role, or kills it when it outlives timeout (its threads written to ROLE.hang.txt
        in hang_dir when given)."""
        p = self.procs.get(role)
        if p is None or self.reap(role, timeout):
            return
        where = f" (threads: {hang_dir}/{role}.hang.txt)" if hang_dir else ""
        self.log(f"{role} (pid {p.pid}) still running {timeout:g}s after it was told to stop: killing it{where}")
        if hang_dir:
            dump_threads(p.pid, os.path.join(hang_dir, f"{role}.hang.txt"))
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(timeout=10)
        self.rcs[role] = "killed"

    def stop(self, who, sig=None, timeout=3.0, hang_dir=None):
        """Ends a role (or a Popen of ours): sig, then SIGKILL after timeout. Returns the process's
        own returncode (negative: the signal that ended it), None for nothing to stop."""
        sig = signal.SIGTERM if sig is None else sig
        role = self._role(who)
        if role is None:
            return None if who is None or isinstance(who, str) else who.poll()
        self.signal(role, sig)
        self.finish(role, timeout, hang_dir)
        return self.procs[role].returncode

    def rc(self, role):
        return self.rcs.get(role)

    def stop_all(self, roles=None, timeout=5, hang_dir=None):
        """SIGTERM to every role still running (default: all of them), then each reaped or killed,
        in that order, within timeout in all."""
        roles = list(self.procs) if roles is None else roles
        for role in roles:
            self.signal(role, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for role in roles:
            self.finish(role, max(0.1, deadline - time.monotonic()), hang_dir)


def dump_threads(pid, path):
    """A stuck process's threads into path: /proc's view, then gdb's backtraces where gdb exists."""
    try:
        with open(path, "w") as f:
            f.write(procfs.thread_dump(pid))
            f.flush()
            gdb = ["timeout", "30", "gdb", "-batch", "-p", str(pid), "-ex", "thread apply all bt"]
            if any(os.access(os.path.join(d, "gdb"), os.X_OK) for d in os.environ.get("PATH", "").split(":")):
                subprocess.run(gdb, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    except OSError:
        pass


def wait_rusage(p, timeout):
    """Like Popen.wait, but returns the child's own CPU seconds (all its threads and reaped
    children) from wait4(2): once reaped, /proc no longer has them. None while it still runs
    after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if p.returncode is not None:
            return getattr(p, "rusage", None)
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            p.rusage = {"user_s": ru.ru_utime, "sys_s": ru.ru_stime}
            return p.rusage
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)
