"""The client side of the proxy's stats socket (docs/stats.md), over TCP or a unix socket, with one
framing: send one command line, half-close (like nc -N: the server answers an EOF at once), read
up to the first newline, and take that line as the JSON reply."""

import json
import socket
import time


def connect(host, port, timeout):
    """A connected stream socket: TCP to host:port, or, for host "unix", the unix socket at port (a
    path: reachable from any network namespace)."""
    if host == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            s.connect(port)
        except OSError:
            s.close()
            raise
        return s
    return socket.create_connection((host, int(port)), timeout=timeout)


def parse_address(addr):
    """"unix:/path" -> ("unix", "/path"); "host:port" / "[v6]:port" -> (host, port)."""
    if addr.startswith("unix:"):
        return "unix", addr[5:]
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def request_line(host, port, command="stats", timeout=5.0):
    """One command, its one-line reply as bytes without the newline (None: no answer in time)."""
    deadline = time.monotonic() + timeout
    try:
        with connect(host, port, timeout) as s:
            s.sendall(command.encode() + b"\n")
            s.shutdown(socket.SHUT_WR)
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
    return buf.split(b"\n", 1)[0] if buf else None


def query(host, port, timeout=5.0):
    """One `stats` snapshot as a dict, or None (no answer within timeout, or not a snapshot: a
    snapshot has a "version")."""
    line = request_line(host, port, "stats", timeout)
    if line is None:
        return None
    try:
        snap = json.loads(line)
    except ValueError:
        return None
    return snap if isinstance(snap, dict) and snap.get("version") is not None else None


def worker_counters(snap):
    """A snapshot's worker counters summed over its workers (bytes_in, read_calls, resets, ...);
    empty for None or a snapshot without workers."""
    total = {}
    for w in (snap or {}).get("workers") or []:
        for k, v in (w.get("counters") or {}).items():
            if isinstance(v, (int, float)):
                total[k] = total.get(k, 0) + v
    return total
