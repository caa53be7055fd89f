"""bench/tune's measurements: its processes (every one ended by its PID, logs numbered in start
order), the proxy's stats socket (a unix socket: reachable from any network namespace), the
machine's and the processes' CPU (spcore.procfs: one definition, steal counted), and one run's
figures from two snapshots that bracket the measured window."""

import os
import time

from spcore import stats
from spcore.children import Children
from spcore.children import tail as _tail
from spcore.procfs import cpu_s, machine_cpu, pid_cpu_s, thread_last_cpu

from ..util import GB


class RunFailed(Exception):
    pass


class Procs(Children):
    """Logs numbered in start order under one directory."""

    def __init__(self, logdir):
        super().__init__(start_error=RunFailed)
        self.logdir = logdir
        self.count = 0

    def start(self, name, argv):
        self.count += 1
        return super().start(name, argv, os.path.join(self.logdir, f"{self.count:03d}-{name}"))


def tail(path, n=600):
    return _tail(path, n).strip()


def unix_stats(path, timeout=2.0):
    """One snapshot from the stats socket at path; OSError when there is none."""
    snap = stats.query("unix", path, timeout)
    if snap is None:
        raise OSError(f"no stats snapshot from {path}")
    return snap


def wait_stats(path, proc, timeout=8.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RunFailed(f"{proc.name} exited with {proc.returncode}: {tail(proc.err_path)}")
        try:
            snap = unix_stats(path, timeout=1.0)
            if "workers" in snap:
                return snap
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise RunFailed(f"{proc.name}: no stats socket at {path} after {timeout:.0f}s: {tail(proc.err_path)}")
def proc_seconds(pid):
    return pid_cpu_s(pid) or 0.0


def machine_ticks():
    """The machine's busy, total and softirq CPU seconds so far (spcore.procfs.machine_cpu)."""
    m = machine_cpu()
    return m["busy_s"], m["total_s"], m["softirq_s"]


def client_errors(summary):
    if not isinstance(summary, dict):
        return "no JSON summary"
    e = summary.get("errors")
    if isinstance(e, dict):
        bad = {k: v for k, v in e.items() if isinstance(v, (int, float)) and v}
        return bad or None
    return e or None


def check_pins(pid, snap, setting, cpus):
    """Each worker's allowed CPUs and the CPU it last ran on (/proc field 39) against --pin."""
    out = []
    for w in snap["workers"]:
        want = cpus[w["id"] % len(cpus)]
        try:
            allowed = sorted(os.sched_getaffinity(w["tid"]))
        except OSError:
            allowed = []
        out.append(dict(worker=w["id"], want=want, allowed=allowed, last_cpu=thread_last_cpu(pid, w["tid"]),
                        ok=allowed == [want] and thread_last_cpu(pid, w["tid"]) == want))
    return out


def measure(s0, s1, m0, m1, p0, p1, pin_check, summary):
    window = s1["uptime_s"] - s0["uptime_s"]
    if window <= 0:
        raise RunFailed("stats window is empty")
    nbytes = s1["totals"]["bytes"] - s0["totals"]["bytes"]
    if nbytes <= 0:
        raise RunFailed("no bytes went through the proxy during the window")
    cpu = cpu_s(s1["totals"]["cpu"]) - cpu_s(s0["totals"]["cpu"])
    w0 = {w["id"]: w for w in s0["workers"]}
    workers = []
    for w in s1["workers"]:
        a = w0.get(w["id"], w)
        workers.append(dict(id=w["id"], cpu_pct=100 * (cpu_s(w["cpu"]) - cpu_s(a["cpu"])) / window,
                            bytes=w["bytes"] - a["bytes"], connections=w["connections_total"]))
    threads0 = {t["name"]: t for t in s0.get("threads", [])}
    others = {t["name"]: 100 * (cpu_s(t["cpu"]) - cpu_s(threads0.get(t["name"], t)["cpu"])) / window
              for t in s1.get("threads", [])}
    busy, total, softirq = m1[0] - m0[0], m1[1] - m0[1], m1[2] - m0[2]
    ncpu = os.cpu_count() or 1
    machine_pct = 100 * busy / total if total else 0.0
    softirq_pct = 100 * softirq / total if total else 0.0
    # Ours: proxy + client + echo server (process CPU from /proc/PID/stat; interrupt time is not in it).
    ours_pct = 100 * (p1 - p0) / window / ncpu
    return dict(
        window_s=window, bytes=nbytes, bytes_per_s=nbytes / window,
        cpu_s=cpu, cpu_pct=100 * cpu / window, cpu_s_per_gb=cpu / (nbytes / GB),
        workers=workers, threads_cpu_pct=others,
        machine_busy_pct=machine_pct, softirq_pct=softirq_pct,
        other_busy_pct=max(0.0, machine_pct - ours_pct - softirq_pct),
        pins=pin_check,
        client_bytes_per_s=(summary or {}).get("throughput", {}).get("bytes_per_s"))


def diagnose(proxy_sock, env):
    """What the proxy and the echo server say when a run failed (both still running)."""
    out = []
    for name, path in (("proxy", proxy_sock), ("server", getattr(env, "server_sock", None))):
        try:
            snap = unix_stats(path, timeout=1.0)
            t = snap["totals"]
            c = {}
            for w in snap["workers"]:
                for k, v in w.get("counters", {}).items():
                    if k in ("connect_failed", "connect_timeout", "resets", "rw_fallbacks", "pipe_resize_failures") and v:
                        c[k] = c.get(k, 0) + v
            out.append(f"{name}: {t['connections_active']} live connections, {t['bytes_per_s'] * 8 / 1e9:.2f} Gbit/s "
                       f"now, CPU {t['cpu']['user_pct'] + t['cpu']['sys_pct']:.0f}%" + (f", {c}" if c else ""))
        except (OSError, ValueError, KeyError, TypeError):
            out.append(f"{name}: no stats")
    return " [" + "; ".join(out) + "]"
