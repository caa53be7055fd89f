"""The processes a bench tool starts: each in its own session with its own log files, each ended by
its PID (SIGTERM, then SIGKILL after a grace period), whatever happens to the tool."""

import os
import signal
import subprocess


class StartFailed(Exception):
    """A program could not be started at all (missing binary, no permission)."""


class Procs:
    def __init__(self, start_error=StartFailed):
        self.live = {}
        self.start_error = start_error  # what start() raises, so callers keep their own error types

    def start(self, name, argv, log_base, cwd=None):
        """Starts argv with stdout/stderr in log_base + ".out"/".err"."""
        out, err = open(log_base + ".out", "wb"), open(log_base + ".err", "wb")
        try:
            # Own session: a Ctrl-C on the terminal reaches only the tool, which ends its children.
            p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                 start_new_session=True, cwd=cwd)
        except OSError as e:
            out.close()
            err.close()
            raise self.start_error(f"cannot start {name} ({argv[0]}): {e}")
        p.name, p.argv, p.out_path, p.err_path, p.files = name, argv, out.name, err.name, (out, err)
        self.live[p.pid] = p
        return p

    def stop(self, p, grace=3.0):
        """Ends p (if still running) and returns its exit code."""
        if p is None:
            return None
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=5)
        for f in p.files:
            f.close()
        self.live.pop(p.pid, None)
        return p.returncode

    def stop_all(self):
        for p in list(self.live.values()):
            self.stop(p, grace=1.0)


def tail(path, n=2000):
    """The last n bytes of a log file as text ("" if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - n))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""
