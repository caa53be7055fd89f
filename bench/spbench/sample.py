"""CPU and stats sampling around one run: a process's CPU, the machine's and snapshots of our
proxy's stats socket, all read through spcore (one definition of each, shared with the scripts)."""

import time

from spcore.procfs import machine_cpu, proc_cpu
from spcore import stats


def stats_cpu(snap):
    """Cumulative CPU seconds from a stats snapshot: the whole process if given, else the
    workers' total."""
    for key in ("process", "totals"):
        c = (snap.get(key) or {}).get("cpu") or {}
        if "user_s" in c and "sys_s" in c:
            return {"user_s": float(c["user_s"]), "sys_s": float(c["sys_s"]), "from": key}
    return None


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
                snap = stats.query(*self.stats_addr, timeout=1.0)
                if snap is not None:
                    s["stats_cpu"] = stats_cpu(snap)
                    s["stats_bytes"] = stats_bytes(snap)
                    s["stats_counters"] = stats.worker_counters(snap)
                    s["stats_snapshot"] = snap
        return s


def cpu_delta(s0, s1, key):
    a, b = s0.get(key), s1.get(key)
    if not a or not b:
        return None
    return {k: round(b[k] - a[k], 6) for k in b if k in a and isinstance(b[k], (int, float))}

