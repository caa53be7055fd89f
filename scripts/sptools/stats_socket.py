"""The client side of the proxy's stats socket (docs/stats.md): one snapshot, and whether a port
accepts connections."""

import json
import socket
import time


def query(host, port, timeout=5.0):
    """One `stats` snapshot as a dict, or None (no answer within timeout, or not a snapshot)."""
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as s:
            s.sendall(b"stats\n")
            s.shutdown(socket.SHUT_WR)  # like nc -N: the reply comes at once
            buf = b""
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                s.settimeout(left)
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
    except OSError:
        return None
    try:
        snap = json.loads(buf.split(b"\n", 1)[0])
    except ValueError:
        return None
    return snap if isinstance(snap, dict) and snap.get("version") is not None else None


def port_open(host, port, timeout=1.0):
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False
