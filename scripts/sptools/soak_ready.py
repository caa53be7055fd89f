"""Client-only mode: the proxy is ready when a ping comes back through it, not merely when its
stats socket answers. In a Swarm stack the services start together, and the proxy may be up
before its remote's name resolves; it closes clients until then (docs/soak.md)."""

import socket
import subprocess


def ping_through(client_bin, proxy, length, timeout=10.0):
    """(True, "") when one ping of `length` bytes came back through the proxy, else (False, why)."""
    argv = [client_bin, "-s", proxy, "-n", "1", "-c", "1", "-T", "1", "-l", length, "--json"]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"no answer in {timeout:g} s"
    except OSError as e:
        return False, f"cannot run {argv[0]}: {e.strerror}"
    if r.returncode == 0:
        return True, ""
    lines = (r.stderr or r.stdout or "").strip().splitlines()
    return False, lines[-1] if lines else f"exit {r.returncode}"


def split_addr(addr):
    host, port = addr.rsplit(":", 1)
    return host.strip("[]"), int(port)


def pinned(addr):
    """HOST:PORT with HOST resolved once (IPv4 first), or addr as it was when it does not resolve.
    Under load Docker's embedded DNS server can miss the 5 s that glibc waits, and a churn round
    whose client cannot resolve 'proxy' would count as failed: the proxy's address is taken once,
    after it answered, and used from then on."""
    try:
        host, port = split_addr(addr)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError):
        return addr
    infos.sort(key=lambda i: i[0] != socket.AF_INET)
    ip = infos[0][4][0]
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
