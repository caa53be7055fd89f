"""The processes a bench tool starts: each in its own session with its own log files, each ended by
its PID (SIGTERM, then SIGKILL after a grace period), whatever happens to the tool."""

import os
import signal
import socket
import subprocess
import time


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


class StartupError(Exception):
    """A process of the setup (backend, proxy) did not come up: retried with fresh ports."""


def free_ports(n, host="127.0.0.1"):
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def listening_ports():
    """TCP ports in LISTEN state, from /proc/net/tcp{,6}: probing by connect() would disturb
    iperf3 -s (it takes any connection as a test) and make a proxy dial its backend."""
    ports = set()
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split()
                    if len(parts) > 3 and parts[3] == "0A":
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def wait_listen(p, port, timeout=5.0, host_is_local=True):
    deadline = time.monotonic() + timeout
    while True:
        if p is not None and p.poll() is not None:
            raise StartupError(f"{p.name} exited with {p.returncode} before listening on {port}: "
                               f"{tail(p.err_path, 600).strip()}")
        if not host_is_local or port in listening_ports():
            return
        if time.monotonic() > deadline:
            raise StartupError(f"{p.name if p else '?'} not listening on port {port} after {timeout}s")
        time.sleep(0.02)


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
