"""Whether a process of a run's setup (backend, proxy) came up: its port listened on, or the reason
it did not (StartupError: the run is retried with fresh ports)."""

import time

from spcore.children import tail
from spcore.procfs import listening_ports


class StartupError(Exception):
    """A process of the setup (backend, proxy) did not come up: retried with fresh ports."""


def wait_listen(p, port, timeout=5.0, host_is_local=True):
    """Until p listens on port (from /proc/net/tcp: probing by connect() would disturb iperf3 -s,
    which takes any connection as a test, and make a proxy dial its backend)."""
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
