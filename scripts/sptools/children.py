"""The processes a tool starts, by role: each in its own session (a Ctrl-C in the terminal reaches
only the tool, which then stops them in order), recorded by PID and ended by PID, never by name."""

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


class Children:
    def __init__(self, niceness=0, log=None):
        self.niceness = niceness
        self.log = log or (lambda msg: None)
        self.procs = {}  # role -> Popen
        self.rcs = {}    # role -> exit code once reaped, or "killed"

    def launch(self, role, argv, out_path, err_path, err_mode="w"):
        """Starts argv with stdout and stderr in files; raises OSError when it cannot start."""
        if self.niceness:
            argv = ["nice", "-n", str(self.niceness)] + list(argv)
        with open(out_path, "w") as out, open(err_path, err_mode) as err:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                 start_new_session=True)
        self.procs[role] = p
        self.rcs.pop(role, None)
        return p

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
        """Reaps role, or kills it when it outlives timeout (its threads written to ROLE.hang.txt)."""
        p = self.procs.get(role)
        if p is None or self.reap(role, timeout):
            return
        where = f" (threads: {hang_dir}/{role}.hang.txt)" if hang_dir else ""
        self.log(f"{role} (pid {p.pid}) still running {timeout:g}s after it was told to stop: killing it{where}")
        if hang_dir:
            try:
                with open(os.path.join(hang_dir, f"{role}.hang.txt"), "w") as f:
                    f.write(procfs.thread_dump(p.pid))
                    f.flush()
                    gdb = ["timeout", "30", "gdb", "-batch", "-p", str(p.pid), "-ex", "thread apply all bt"]
                    if any(os.access(os.path.join(d, "gdb"), os.X_OK) for d in os.environ.get("PATH", "").split(":")):
                        subprocess.run(gdb, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            except OSError:
                pass
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait(timeout=10)
        self.rcs[role] = "killed"

    def stop(self, role, sig, timeout, hang_dir=None):
        self.signal(role, sig)
        self.finish(role, timeout, hang_dir)

    def rc(self, role):
        return self.rcs.get(role)

    def stop_all(self, roles, timeout=5, hang_dir=None):
        """SIGTERM to every role still running, then each reaped or killed (in that order)."""
        for role in roles:
            self.signal(role, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for role in roles:
            self.finish(role, max(0.1, deadline - time.monotonic()), hang_dir)
