"""CPU and stats sampling: a process's CPU (/proc/PID/stat), the machine's (/proc/stat), and
snapshots of our proxy's stats socket (TCP or unix), the numbers every bench tool measures with."""

import json
import socket
import time

from .util import CLK_TCK


def proc_cpu(pid):
    """Cumulative user and system CPU seconds of a process (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    # fields[0] is state (field 3); utime is field 14, stime field 15.
    return {"user_s": int(fields[11]) / CLK_TCK, "sys_s": int(fields[12]) / CLK_TCK}


def machine_cpu():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq = v[:7]
    return {"user_s": (user + nice) / CLK_TCK, "sys_s": (system + irq + softirq) / CLK_TCK,
            "irq_s": (irq + softirq) / CLK_TCK}


def read_stats(host, port, timeout=1.0):
    """One snapshot from our proxy's stats socket at host:port (host "unix" and port a path: its
    unix socket), or None."""
    try:
        if host == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(port)
        else:
            s = socket.create_connection((host, port), timeout=timeout)
        with s:
            s.settimeout(timeout)
            s.sendall(b"stats\n")
            buf = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                try:
                    return json.loads(buf.decode())
                except ValueError:
                    continue
            return json.loads(buf.decode()) if buf else None
    except (OSError, ValueError):
        return None


def stats_cpu(snap):
    """Cumulative CPU seconds from a stats snapshot: the whole process if given, else the
    workers' total."""
    for key in ("process", "totals"):
        c = (snap.get(key) or {}).get("cpu") or {}
        if "user_s" in c and "sys_s" in c:
            return {"user_s": float(c["user_s"]), "sys_s": float(c["sys_s"]), "from": key}
    return None


def stats_counters(snap):
    """Worker counters summed over workers (splice_calls, read_calls, eagain, resets, ...)."""
    total = {}
    for w in snap.get("workers") or []:
        for k, v in (w.get("counters") or {}).items():
            if isinstance(v, (int, float)):
                total[k] = total.get(k, 0) + v
    return total


def stats_bytes(snap):
    try:
        return int(snap["totals"]["bytes"])
    except (KeyError, TypeError, ValueError):
        return None


class Sampler:
    def __init__(self, proxy, stats_addr, others):
        self.proxy = proxy
        self.stats_addr = stats_addr  # (host, port) or None
        self.others = others  # role -> Popen (backend, client): their CPU, for the interference estimate

    def sample(self):
        s = {"t": time.monotonic(), "machine": machine_cpu(), "procs": {}}
        for role, p in list(self.others.items()) + [("proxy", self.proxy)]:
            if p is not None and p.returncode is None:
                c = proc_cpu(p.pid)
                if c:
                    s["procs"][role] = c
        if self.proxy is not None:
            s["proc"] = proc_cpu(self.proxy.pid)
            if self.stats_addr:
                snap = read_stats(*self.stats_addr)
                if snap is not None:
                    s["stats_cpu"] = stats_cpu(snap)
                    s["stats_bytes"] = stats_bytes(snap)
                    s["stats_counters"] = stats_counters(snap)
                    s["stats_snapshot"] = snap
        return s


def cpu_s(c):
    return c["user_s"] + c["sys_s"]


def cpu_delta(s0, s1, key):
    a, b = s0.get(key), s1.get(key)
    if not a or not b:
        return None
    return {k: round(b[k] - a[k], 6) for k in b if k in a and isinstance(b[k], (int, float))}

