"""The crowd run: C connections at once each echoing one M-byte message (default 2,000 × 2 MiB),
direct and through the proxy in every mode, repetitions interleaved. What it answers: does the
proxy, whose sockets double the kernel's TCP memory, stall connections that the same load without
it does not? Per run: connections stalled (no byte moved for --stall seconds, by tcp_ping_client),
the longest gap, the kernel's peak TCP memory (/proc/net/sockstat), the segments it dropped and the
memory-pressure events (nstat deltas), the proxy's peak RSS, and the wall time.

    bench/crowd [--modes rw,splice,auto,uring,sockmap] [--reps 5] [--connections 2000]
                [--length 2M] [--stall 5] [--proxy-arg=--uring-features=all] [--out DIR]

Writes DIR/crowd.json (every run), DIR/crowd.md (medians per mode), and prints progress; Ctrl-C
stops after the run in progress with what was measured so far.
"""

import argparse
import json
import os
import re
import signal
import statistics
import sys
import threading
import time

from spcore.children import Children
from spcore.modes import MODES
from spcore.net import free_ports

from . import paths as P
from .startup import StartupError, wait_listen
from .util import REPO, log, now_iso, parse_size

NSTAT_KEYS = ("TcpExtTCPRcvQDrop", "TcpExtTCPMemoryPressures", "TcpExtTCPAbortOnMemory", "TcpExtTCPOFODrop",
              "TcpRetransSegs", "TcpExtTCPBacklogDrop", "TcpExtPruneCalled", "TcpExtListenOverflows",
              "TcpExtListenDrops", "TcpExtTCPReqQFullDoCookies", "TcpExtSyncookiesSent", "TcpExtTCPTimeouts")


def read_nstat():
    """The kernel's TCP counters since boot (/proc/net/netstat and /proc/net/snmp), by nstat name."""
    out = {}
    for path, prefix_of in (("/proc/net/netstat", {"TcpExt": "TcpExt"}), ("/proc/net/snmp", {"Tcp": "Tcp"})):
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for names, values in zip(lines[0::2], lines[1::2]):
            head, *keys = names.split()
            _, *nums = values.split()
            prefix = prefix_of.get(head.rstrip(":"))
            if prefix:
                for k, v in zip(keys, nums):
                    out[prefix + k] = int(v)
    return out


def tcp_mem_pages():
    """The kernel's TCP memory now, in pages (the last field of the TCP line of /proc/net/sockstat)."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                return int(line.split()[-1])
    return 0


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Peaks(threading.Thread):
    """Samples TCP memory and the proxy's RSS every 0.2 s until stopped; keeps the peaks."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.tcp_pages, self.rss_kib = pid, 0, 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            self.tcp_pages = max(self.tcp_pages, tcp_mem_pages())
            if self.pid:
                self.rss_kib = max(self.rss_kib, rss_kib(self.pid) or 0)
            self.done.wait(0.2)


def one_run(a, kids, mode, rep, tmp):
    sport, pport = free_ports(2)
    tmp = os.path.join(tmp, re.sub(r"[^A-Za-z0-9]+", "_", mode).strip("_"))
    os.makedirs(tmp, exist_ok=True)
    bin_dir = a.bin_dir
    server = kids.start("server", [os.path.join(bin_dir, "tcp_ping_server"), "-s", "127.0.0.1", "-p", str(sport),
                                   "-w", "2"], os.path.join(tmp, f"{rep}.server"))
    wait_listen(server, sport)
    proxy, port = None, sport
    if mode in ("haproxy", "haproxy-splice"):
        # HAProxy as the bench runs it (bench/spbench/paths.py), with as many threads as our workers.
        cfg = os.path.join(tmp, f"{rep}.haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(P.haproxy_config(mode, 2, "127.0.0.1", pport, "127.0.0.1", sport, None))
        proxy = kids.start("proxy", ["haproxy", "-f", cfg, "-db"], os.path.join(tmp, f"{rep}.proxy"))
        wait_listen(proxy, pport)
        port = pport
    elif mode != "direct":
        name, _, extra = mode.partition(" ")
        proxy = kids.start("proxy", [os.path.join(bin_dir, "proxy"), "-s", "127.0.0.1", "-p", str(pport), "-r",
                                     "127.0.0.1", "-c", str(sport), "--mode", name, "-w", "2", "--stats", "off"]
                           + a.proxy_arg + ([extra] if extra else []),
                           os.path.join(tmp, f"{rep}.proxy"))
        wait_listen(proxy, pport)
        port = pport
    peaks = Peaks(proxy.pid if proxy else None)
    before = read_nstat()
    idle_pages = tcp_mem_pages()
    peaks.start()
    t0 = time.monotonic()
    client = kids.start("client", [os.path.join(bin_dir, "tcp_ping_client"), "-s", "127.0.0.1", "-p", str(port),
                                   "-c", str(a.connections), "-T", "2", "-l", str(a.length), "-n", "1",
                                   "--stall", str(a.stall), "--json"], os.path.join(tmp, f"{rep}.client"))
    if not kids.reap("client", a.timeout):
        kids.stop("client")
    wall = time.monotonic() - t0
    peaks.done.set()
    peaks.join()
    after = read_nstat()
    for role in ("proxy", "server"):
        kids.stop(role)
    summary = None
    with open(client.out_path) as f:
        for line in f:
            if line.startswith("{"):
                summary = json.loads(line)
    s = summary or {}
    return {"mode": mode, "rep": rep, "at": now_iso(), "wall_s": round(wall, 2), "client_exit": kids.rc("client"),
            "messages": s.get("messages"), "errors": (s.get("errors") or {}).get("total"),
            "stalled": (s.get("stalls") or {}).get("connections"),
            "longest_gap_s": round(((s.get("stalls") or {}).get("longest_gap_us") or 0) / 1e6, 3),
            "peak_tcp_mib": round(peaks.tcp_pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20, 1),
            "tcp_mib_before": round(idle_pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20, 1),
            "peak_proxy_rss_mib": round(peaks.rss_kib / 1024, 1) if proxy else None,
            "kernel": {k: after.get(k, 0) - before.get(k, 0) for k in NSTAT_KEYS}}


def run_order(modes, compare=None):
    """The paths of one repetition: direct, the modes asked, then each of our modes again with the
    --compare flag (HAProxy takes no proxy flag)."""
    order = ["direct"] + [m for m in modes.split(",") if m and m != "direct"]
    if compare:
        order += [f"{m} {compare}" for m in order[1:] if not m.startswith("haproxy")]
    return order


def table(runs, modes):
    def med(key, rs):
        vals = [r[key] for r in rs if r.get(key) is not None]
        return round(statistics.median(vals), 2) if vals else None

    # A run whose client wrote no summary (killed at --timeout) has no stall count: it is counted
    # apart, as unfinished, so that a hang never reads as "0 stalled".
    # At the kernel's TCP-memory limit a stall is TCP's retransmission and zero-window-probe backoff,
    # which strikes a few connections of some runs on any path, direct included: how many runs it
    # struck says more than the worst one, and the RTOs (TcpTimeouts) show the backoff's cause.
    L = ["| path | runs | unfinished | stalled conns (max) | runs with a stall | longest gap s (median) | wall s | "
         "peak TCP MiB | proxy RSS MiB | RcvQDrop | RTOs | pressure events | errors |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in modes:
        rs = [r for r in runs if r["mode"] == m]
        if not rs:
            continue
        drops = statistics.median(r["kernel"]["TcpExtTCPRcvQDrop"] for r in rs)
        rtos = statistics.median(r["kernel"].get("TcpExtTCPTimeouts", 0) for r in rs)
        pressure = statistics.median(r["kernel"]["TcpExtTCPMemoryPressures"] for r in rs)
        rss = med("peak_proxy_rss_mib", rs)
        unfinished = sum(1 for r in rs if r["messages"] is None)
        finished = [r for r in rs if r["messages"] is not None]  # an unfinished run's gap is unknown, not 0
        L.append(f"| {m} | {len(rs)} | {f'**{unfinished}**' if unfinished else 0} | "
                 f"{max(r['stalled'] or 0 for r in rs)} | {sum(1 for r in finished if r['stalled'])} of {len(finished)} | "
                 f"{med('longest_gap_s', finished) if finished else '–'} | "
                 f"{med('wall_s', rs)} | {med('peak_tcp_mib', rs)} | {'–' if rss is None else rss} | {drops:.0f} | "
                 f"{rtos:.0f} | {pressure:.0f} | {sum(r['errors'] or 0 for r in rs)} |")
    return L


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modes", default=",".join(MODES), help="proxy modes, comma-separated (default: all), and "
                    "haproxy or haproxy-splice for HAProxy with 2 threads; direct is always run too")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per path, interleaved (default 5)")
    ap.add_argument("--connections", type=int, default=2000, help="connections at once (default 2000)")
    ap.add_argument("--length", default="2M", help="bytes each connection echoes once (default 2M)")
    ap.add_argument("--stall", type=float, default=5.0, help="seconds without a byte moved that count as a stall")
    ap.add_argument("--timeout", type=float, default=120.0, help="longest a run may take (default 120 s)")
    ap.add_argument("--proxy-arg", action="append", default=[], help="an extra proxy flag (repeatable)")
    ap.add_argument("--compare", default=None, metavar="FLAG",
                    help="also run every mode with this one extra proxy flag, interleaved (an A/B: e.g. "
                         "--compare=--uring-features=all)")
    ap.add_argument("--bin-dir", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--out", default=None, help="results directory (default: a temporary one)")
    argv = sys.argv[1:] if argv is None else argv
    a = ap.parse_args(argv)
    a.length = parse_size(a.length)
    modes = run_order(a.modes, a.compare)
    out = a.out or os.path.join("/tmp", f"crowd-{int(time.time())}")
    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(out, "logs")
    os.makedirs(tmp, exist_ok=True)
    kids = Children(start_error=StartupError)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    runs, total = [], a.reps * len(modes)
    log(f"crowd: {a.connections} connections x {a.length} bytes, {a.reps} reps of {', '.join(modes)}: {total} runs")
    try:
        for rep in range(1, a.reps + 1):
            for mode in modes:
                if stop.is_set():
                    raise KeyboardInterrupt
                r = one_run(a, kids, mode, rep, tmp)
                runs.append(r)
                log(f"[{len(runs)}/{total}] {mode} rep {rep}: stalled {r['stalled']}, longest gap {r['longest_gap_s']} s, "
                    f"{r['wall_s']} s, peak TCP {r['peak_tcp_mib']} MiB, RcvQDrop {r['kernel']['TcpExtTCPRcvQDrop']}, "
                    f"errors {r['errors']}")
    except KeyboardInterrupt:
        log("crowd: interrupted; keeping the runs so far")
    finally:
        kids.stop_all()
    meta = {"command": ["bench/crowd"] + (argv or []), "connections": a.connections, "length": a.length,
            "stall_s": a.stall, "proxy_args": a.proxy_arg, "cpu_model": cpu_model(), "kernel": os.uname().release,
            "tcp_mem": open("/proc/sys/net/ipv4/tcp_mem").read().split()}
    with open(os.path.join(out, "crowd.json"), "w") as f:
        json.dump({"meta": meta, "runs": runs}, f, indent=1)
    text = [f"# crowd: {a.connections} × {a.length} bytes echoed at once", "",
            f"Command: `{' '.join(meta['command'])}`; CPU {meta['cpu_model']}, kernel {meta['kernel']}, "
            f"tcp_mem {meta['tcp_mem']} pages. Medians over {a.reps} interleaved repetitions; "
            "stalled: connections with no byte moved for ≥ " f"{a.stall:g} s (the maximum over the repetitions, "
            "and in how many runs any); RTOs: TCP's retransmission timeouts, machine-wide.",
            ""] + table(runs, modes)
    with open(os.path.join(out, "crowd.md"), "w") as f:
        f.write("\n".join(text) + "\n")
    print("\n".join(text))
    log(f"crowd: {out}/crowd.json, {out}/crowd.md")
    return 0 if all((r["errors"] or 0) == 0 and r["messages"] == a.connections for r in runs) else 1


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
