#!/usr/bin/env python3
"""spliceproxy benchmark: when does a splice(2) proxy beat a read/write proxy?

Starts a backend (tcp_ping_server echo, iperf3 -s or sockperf sr), optionally a proxy in front of
it (ours in rw or splice mode, or HAProxy with or without splice), and a load client against the
front, on 127.0.0.1 by default. Measures throughput, latency and the proxy's CPU seconds per GB
moved. Variants are interleaved, every run's raw JSON is kept, and a Markdown report with gnuplot
PNGs is written. Python 3 standard library only.

See bench/README.md for how to run it and how to read the results.
"""

import argparse
import datetime
import glob
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

import goals
from procs import Procs, tail

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
SCHEMA = "spliceproxy-bench/1"
GB = 1e9  # CPU-s/GB uses decimal gigabytes

DEFAULT_PATHS = ["direct", "proxy-rw", "proxy-splice", "proxy-auto", "haproxy", "haproxy-splice"]
# Opt-in (--paths): both proxies busy-polling instead of sleeping in epoll_wait, read/write mode.
# Each spins a core while it waits, so they are compared with each other, never with the rest.
BUSY_PATHS = ["proxy-rw-busy", "haproxy-busy"]
PATHS = DEFAULT_PATHS + BUSY_PATHS
PROXY_PATHS = [p for p in PATHS if p != "direct"]
OURS = ("proxy-rw", "proxy-splice", "proxy-auto", "proxy-rw-busy")
HAPROXY = ("haproxy", "haproxy-splice", "haproxy-busy")
SAME_MODE_HAPROXY = {"proxy-rw": "haproxy", "proxy-splice": "haproxy-splice", "proxy-auto": "haproxy-splice",
                     "proxy-rw-busy": "haproxy-busy"}
RW_OF = {"proxy-splice": "proxy-rw", "proxy-auto": "proxy-rw", "haproxy-splice": "haproxy"}

# kind: which backend and client. window: over what the proxy CPU is measured (see README).
WORKLOADS = {
    "pp-1k-1c": dict(kind="ping", mode="pingpong", length=1024, conns=1,
                     desc="tcp_ping_client ping-pong, 1 KiB messages, 1 connection"),
    "pp-1k-64c": dict(kind="ping", mode="pingpong", length=1024, conns=64,
                      desc="tcp_ping_client ping-pong, 1 KiB messages, 64 connections"),
    "pp-16k-1c": dict(kind="ping", mode="pingpong", length=16384, conns=1,
                      desc="tcp_ping_client ping-pong, 16 KiB messages, 1 connection"),
    "stream-64k-1c": dict(kind="ping", mode="stream", length=65536, conns=1,
                          desc="tcp_ping_client stream through the echo server, 64 KiB messages, 1 connection"),
    "stream-64k-8c": dict(kind="ping", mode="stream", length=65536, conns=8,
                          desc="tcp_ping_client stream through the echo server, 64 KiB messages, 8 connections"),
    "iperf3-P1": dict(kind="iperf3", streams=1, desc="iperf3 -c (upload), 1 stream, iperf3 -s behind the proxy"),
    "iperf3-P4": dict(kind="iperf3", streams=4, desc="iperf3 -c (upload), 4 parallel streams (-P 4)"),
    "sockperf-pp-1k": dict(kind="sockperf", length=1024,
                           desc="sockperf pp --tcp -m 1024 --full-rtt (round trips), sockperf sr behind the proxy"),
}
QUICK_WORKLOADS = ["pp-1k-1c", "pp-1k-64c", "stream-64k-8c", "iperf3-P4", "sockperf-pp-1k"]
SWEEP_WORKLOADS = ["iperf3-P4", "pp-1k-64c"]
HEADLINE = ["iperf3-P1", "iperf3-P4", "pp-1k-1c"]

COLORS = {"direct": "#888888", "proxy-rw": "#1f77b4", "proxy-splice": "#2ca02c", "proxy-auto": "#9467bd",
          "haproxy": "#ff7f0e", "haproxy-splice": "#d62728", "proxy-rw-busy": "#17becf",
          "haproxy-busy": "#8c564b"}


class StartupError(Exception):
    """A process of the setup (backend, proxy) did not come up: retried with fresh ports."""


class Interrupted(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def now_iso():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# process output (starting and ending them: procs.py)


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


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


# --------------------------------------------------------------------------------------------
# CPU and stats sampling


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
    """One snapshot from our proxy's stats socket, or None."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
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


def wait_rusage(p, timeout):
    """Like Popen.wait, but returns the child's own CPU seconds (all its threads) from wait4(2):
    once reaped, /proc no longer has them. None while it still runs after timeout."""
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


def cpu_delta(s0, s1, key):
    a, b = s0.get(key), s1.get(key)
    if not a or not b:
        return None
    return {k: round(b[k] - a[k], 6) for k in b if k in a and isinstance(b[k], (int, float))}


# --------------------------------------------------------------------------------------------
# paths (what sits between client and backend)


def haproxy_maxconn():
    """High, but within the fd limit HAProxy can get (it needs ~2 fds per connection, 4 with splice
    pipes, and refuses to start when RLIMIT_NOFILE is too low for maxconn)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = hard if hard != resource.RLIM_INFINITY else 1 << 20
    return int(max(256, min(20000, (limit - 200) // 5)))


def haproxy_config(path, workers, listen, port, backend, bport, pin):
    maxconn = haproxy_maxconn()
    lines = [
        "# written by bench/bench.py",
        "global",
        f"    nbthread {workers}",
        f"    maxconn {maxconn}",
    ]
    if path == "haproxy-busy":
        lines.append("    busy-polling")
    if pin:
        lines.append(f"    cpu-map auto:1/1-{workers} {pin}")
    lines += [
        "defaults",
        "    mode tcp",
        "    timeout connect 10s",
        "    timeout client 300s",
        "    timeout server 300s",
        f"    maxconn {maxconn}",
    ]
    if path == "haproxy-splice":
        lines += ["    option splice-request", "    option splice-response"]
    lines += [
        "frontend fe",
        f"    bind {listen}:{port}",
        "    default_backend be",
        "backend be",
        f"    server s1 {backend}:{bport}",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# clients


BINS = ("proxy", "tcp_ping_server", "tcp_ping_client")


def snapshot_bins(src, dst):
    """Copies our binaries aside for the whole run: others may rebuild build/bin meanwhile, and a
    binary changing between repetitions would make them incomparable."""
    import hashlib
    os.makedirs(dst, exist_ok=True)
    facts = {}
    for b in BINS:
        p = os.path.join(src, b)
        if not os.path.exists(p):
            facts[b] = None
            continue
        shutil.copy2(p, os.path.join(dst, b))
        with open(p, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        facts[b] = {"sha256": digest[:16],
                    "mtime": datetime.datetime.fromtimestamp(os.path.getmtime(p)).astimezone()
                    .isoformat(timespec="seconds")}
    return dst, facts


def client_supports_contract(client):
    try:
        r = subprocess.run([client, "-h"], capture_output=True, timeout=10, text=True)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"cannot run {client} -h: {e}"
    text = r.stdout + r.stderr
    missing = [f for f in ("--json", "--warmup", "--mode", "stream") if f not in text]
    if missing:
        return False, "tcp_ping_client lacks " + ", ".join(missing) + " (contract not landed yet)"
    return True, ""


def pctl(d, *names):
    for n in names:
        if d and d.get(n) is not None:
            return float(d[n])
    return None


def parse_ping(stdout, wl):
    docs = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                docs.append(json.loads(line))
            except ValueError:
                pass
    summaries = [d for d in docs if d.get("type") == "summary"]
    if not summaries:
        raise ValueError("no summary JSON line in tcp_ping_client output")
    s = summaries[-1]
    dur = float(s.get("duration_s") or 0)
    rx = int(s.get("bytes_received") or 0)
    tx = int(s.get("bytes_sent") or 0)
    tp = s.get("throughput") or {}
    lat = s.get("latency_us") or {}
    m = {
        "duration_s": dur,
        "messages": s.get("messages"),
        "bytes_sent": tx,
        "bytes_received": rx,
        # one way: the bytes that came back to the client (each crossed the proxy twice).
        "bytes_oneway": rx,
        "msg_per_s": float(tp["messages_per_s"]) if tp.get("messages_per_s") is not None
        else (s.get("messages", 0) / dur if dur else None),
        "gbit_per_s": rx * 8 / dur / 1e9 if dur else None,
        "client_gbit_per_s": float(tp["mbit_per_s"]) / 1000 if tp.get("mbit_per_s") is not None else None,
        "latency_us": {"min": pctl(lat, "min"), "mean": pctl(lat, "mean"), "p50": pctl(lat, "p50"),
                       "p90": pctl(lat, "p90"), "p99": pctl(lat, "p99"),
                       "p999": pctl(lat, "p999", "p99.9"), "max": pctl(lat, "max")},
        "errors": s.get("errors"),
        "client_ok": s.get("ok"),
    }
    if wl["mode"] == "stream":
        m["latency_us"] = {k: None for k in m["latency_us"]}  # not meaningful for a stream
        m["stream_latency_us"] = {k: pctl(lat, k) for k in ("p50", "p99", "max")}
    problems = []
    if s.get("ok") is False:
        problems.append("client reported ok=false")
    errs = s.get("errors") or {}
    if isinstance(errs, dict):
        nonzero = {k: v for k, v in errs.items() if isinstance(v, (int, float)) and v}
        if nonzero:
            m["errors_nonzero"] = nonzero
    return m, {"lines": docs}, problems


def parse_iperf3(stdout):
    doc = json.loads(stdout)
    if doc.get("error"):
        raise ValueError("iperf3: " + str(doc["error"]))
    end = doc.get("end") or {}
    rcv = end.get("sum_received") or {}
    snt = end.get("sum_sent") or {}
    whole = sum(int(iv["sum"]["bytes"]) for iv in doc.get("intervals", []) if "sum" in iv)
    m = {
        "duration_s": float(rcv.get("seconds") or 0),
        "bytes_received": int(rcv.get("bytes") or 0),
        "bytes_sent": int(snt.get("bytes") or 0),
        # CPU is measured over the whole client run, so the bytes are too (omitted intervals included)
        "bytes_oneway": whole,
        "gbit_per_s": float(rcv.get("bits_per_second") or 0) / 1e9,
        "msg_per_s": None,
        "retransmits": snt.get("retransmits"),
        "iperf3_cpu_pct": end.get("cpu_utilization_percent"),
        "latency_us": {k: None for k in ("min", "mean", "p50", "p90", "p99", "p999", "max")},
    }
    return m, doc, []


SOCKPERF_NUM = r"([0-9.]+)"


def parse_sockperf(stdout, length):
    text = re.sub(r"\x1b\[[0-9;]*m", "", stdout)
    total = re.search(r"\[Total Run\] RunTime=" + SOCKPERF_NUM + r" sec; Warm up time=(\d+) msec; "
                      r"SentMessages=(\d+); ReceivedMessages=(\d+)", text)
    valid = re.search(r"\[Valid Duration\] RunTime=" + SOCKPERF_NUM + r" sec; SentMessages=(\d+); "
                      r"ReceivedMessages=(\d+)", text)
    if not total or not valid:
        raise ValueError("sockperf output has no [Total Run]/[Valid Duration] line")
    pct = {}
    for name, val in re.findall(r"---> percentile ([0-9.]+) =\s+([0-9.]+)", text):
        pct[name] = float(val)
    mx = re.search(r"---> <MAX> observation =\s+([0-9.]+)", text)
    mn = re.search(r"---> <MIN> observation =\s+([0-9.]+)", text)
    avg = re.search(r"avg-(?:latency|rtt)=([0-9.]+)", text)
    vdur = float(valid.group(1))
    vrecv = int(valid.group(3))
    m = {
        "duration_s": vdur,
        "warmup_ms": int(total.group(2)),
        "messages": vrecv,
        "bytes_received": vrecv * length,
        # whole run (sockperf's own warm-up included), to match the whole-run CPU window
        "bytes_oneway": int(total.group(4)) * length,
        "msg_per_s": vrecv / vdur if vdur else None,
        "gbit_per_s": vrecv * length * 8 / vdur / 1e9 if vdur else None,
        "latency_us": {"min": float(mn.group(1)) if mn else None, "mean": float(avg.group(1)) if avg else None,
                       "p50": pct.get("50.000"), "p90": pct.get("90.000"), "p99": pct.get("99.000"),
                       "p999": pct.get("99.900"), "max": float(mx.group(1)) if mx else None},
    }
    return m, {"text": text}, []


# --------------------------------------------------------------------------------------------
# the bench


class Bench:
    def __init__(self, args, out):
        self.a = args
        self.out = out
        self.raw = os.path.join(out, "raw")
        self.tmp = os.path.join(out, "raw-tmp")
        os.makedirs(self.raw, exist_ok=True)
        os.makedirs(self.tmp, exist_ok=True)
        self.procs = Procs(StartupError)
        self.bin, self.bin_facts = snapshot_bins(os.path.abspath(args.bin_dir), os.path.join(self.tmp, "bin"))
        self.runs = []
        self.stats_seen = None  # None: not tried yet; True/False after the first proxy run
        self.client_ok, self.client_reason = client_supports_contract(os.path.join(self.bin, "tcp_ping_client"))
        self.local_backend = args.server_host is None

    # ---- setup of one run

    def start_backend(self, wl, port, tag):
        host = self.a.server_bind
        kind = wl["kind"]
        if kind == "ping":
            argv = [os.path.join(self.bin, "tcp_ping_server"), "-s", host, "-p", str(port),
                    "-w", str(self.a.server_workers)]
        elif kind == "iperf3":
            argv = ["iperf3", "-s", "-B", host, "-p", str(port)]
        else:
            argv = ["sockperf", "sr", "--tcp", "-i", host, "-p", str(port)]
        argv = self.taskset(self.a.pin_server) + argv
        p = self.procs.start("backend", argv, os.path.join(self.tmp, f"{tag}.backend"), cwd=self.tmp)
        wait_listen(p, port)
        return p

    def taskset(self, cpus):
        return ["taskset", "-c", cpus] if cpus else []

    def start_path(self, path, workers, bhost, bport, pport, sport, tag):
        listen = self.a.proxy_listen
        if path == "direct":
            return None, None
        if path in OURS:
            mode = path.removeprefix("proxy-").removesuffix("-busy")
            argv = [os.path.join(self.bin, "proxy"), "-s", listen, "-p", str(pport), "-r", bhost,
                    "-c", str(bport), "--mode", mode,
                    "-w", str(workers), "--stats", f"127.0.0.1:{sport}", "--grace", "1"]
            if path.endswith("-busy"):
                argv += ["--busy-poll", str(self.a.busy_poll)]
            if self.a.pipe_size:
                argv += ["--pipe-size", self.a.pipe_size]
            if self.a.buffer_size:
                argv += ["--buffer-size", self.a.buffer_size]
            if self.a.pin:
                argv += ["--pin", self.a.pin]
            argv += self.a.proxy_arg
        else:
            cfg = os.path.join(self.tmp, f"{tag}.haproxy.cfg")
            with open(cfg, "w") as f:
                f.write(haproxy_config(path, workers, listen, pport, bhost, bport, self.a.pin))
            argv = ["haproxy", "-f", cfg, "-db"]
        p = self.procs.start("proxy", argv, os.path.join(self.tmp, f"{tag}.proxy"), cwd=self.tmp)
        wait_listen(p, pport)  # the proxy always runs here: /proc/net/tcp shows its listener
        stats_addr = None
        if path in OURS:
            # Our stats socket, if this build has it: checked on every run, the source recorded.
            deadline = time.monotonic() + (0.5 if self.stats_seen is not False else 0.1)
            while time.monotonic() < deadline:
                if sport in listening_ports():
                    if read_stats("127.0.0.1", sport) is not None:
                        stats_addr = ("127.0.0.1", sport)
                    break
                time.sleep(0.02)
            if self.stats_seen is None or (stats_addr and not self.stats_seen):
                self.stats_seen = stats_addr is not None
        return p, stats_addr

    def client_argv(self, wl, host, port):
        a = self.a
        kind = wl["kind"]
        if kind == "ping":
            threads = min(wl["conns"], a.client_threads)
            argv = [os.path.join(self.bin, "tcp_ping_client"), "-s", host, "-p", str(port),
                    "-c", str(wl["conns"]), "-T", str(threads), "-l", str(wl["length"]),
                    "-t", fmt_s(a.duration), "--mode", wl["mode"], "--warmup", fmt_s(a.warmup), "--json"]
            window = "after_warmup"
        elif kind == "iperf3":
            argv = ["iperf3", "-c", host, "-p", str(port), "-t", str(max(1, round(a.duration))),
                    "-O", str(max(0, math.ceil(a.warmup))), "-P", str(wl["streams"]), "-J"]
            window = "whole"
        else:
            # sockperf has its own fixed warm-up (400 ms) that it leaves out of its statistics
            argv = ["sockperf", "pp", "--tcp", "-i", host, "-p", str(port), "-m", str(wl["length"]),
                    "-t", str(max(1, round(a.duration))), "--full-rtt"]
            window = "whole"
        return self.taskset(a.pin_client) + argv, window

    # ---- one run

    def run_one(self, seq, total, path, wname, workers, rep, phase):
        wl = WORKLOADS[wname]
        tag = f"{seq:04d}-{path}-{wname}-w{workers}-r{rep}"
        rec = {"id": tag, "seq": seq, "phase": phase, "path": path, "workload": wname, "workers": workers,
               "rep": rep, "started_at": now_iso(), "status": "failed", "error": None, "attempts": 0}
        if wl["kind"] == "ping" and not self.client_ok:
            rec.update(status="skipped", error=self.client_reason)
            return self.finish(rec, None, total)
        extra = {}
        for attempt in range(1, 4):
            rec["attempts"] = attempt
            backend = proxy = client = None
            try:
                bport, pport, sport = free_ports(3)
                if self.local_backend:
                    backend = self.start_backend(wl, bport, tag)
                    bhost = self.a.server_bind
                else:
                    bhost = self.a.server_host
                    bport = {"ping": self.a.echo_port, "iperf3": self.a.iperf3_port,
                             "sockperf": self.a.sockperf_port}[wl["kind"]]
                proxy, stats_addr = self.start_path(path, workers, bhost, bport, pport, sport, tag)
                if path == "direct":
                    thost, tport = bhost, bport
                else:
                    thost = self.a.proxy_host or (self.a.proxy_listen if self.a.proxy_listen != "0.0.0.0"
                                                  else "127.0.0.1")
                    tport = pport
                argv, window = self.client_argv(wl, thost, tport)
                sampler = Sampler(proxy, stats_addr, {"backend": backend})
                rec["argv"] = {"client": argv, "proxy": proxy.argv if proxy else None,
                               "backend": backend.argv if backend else None}
                rec["cpu_source"] = ("none (no proxy)" if proxy is None else
                                     "stats-socket" if stats_addr else "/proc/PID/stat")
                rec["cpu_window"] = window
                limit = self.a.warmup + self.a.duration + self.a.run_timeout
                s0 = sampler.sample()
                t0 = time.monotonic()
                client = self.procs.start("client", argv, os.path.join(self.tmp, f"{tag}.client"), cwd=self.tmp)
                sampler.others["client"] = client
                if window == "after_warmup" and self.a.warmup > 0:
                    wait_rusage(client, self.a.warmup)
                    s0 = sampler.sample()
                ru = wait_rusage(client, max(0.1, limit - (time.monotonic() - t0)))
                if ru is None:
                    rec["error"] = f"client timed out after {limit:.0f}s (killed)"
                s1 = sampler.sample()
                if ru is not None:
                    s1["procs"]["client"] = ru
                proxy_alive = proxy is None or proxy.poll() is None
                rc = self.procs.stop(client, grace=1.0)
                rec["client_exit"] = rc
                rec["wall_s"] = round(time.monotonic() - t0, 3)
                stdout = read_text(client.out_path)
                stderr = tail(client.err_path, 3000)
                if not proxy_alive:
                    rec["error"] = "; ".join(x for x in (rec["error"], f"proxy exited during the run with {proxy.returncode}") if x)
                self.measure(rec, wl, stdout, stderr, rc, s0, s1, extra)
                if stats_addr and s1.get("stats_snapshot"):
                    extra["proxy_stats_final"] = s1["stats_snapshot"]
                break
            except StartupError as e:
                rec["error"] = f"startup (attempt {attempt}): {e}"
                extra.setdefault("startup_errors", []).append(str(e))
                continue
            finally:
                for p in (client, proxy, backend):
                    if p is not None:
                        code = self.procs.stop(p)
                        if p is proxy:
                            rec["proxy_exit"] = code
                if proxy is not None:
                    ptail = tail(proxy.err_path, 3000) + tail(proxy.out_path, 1000)
                    if rec["status"] != "ok" or re.search(r"error|warn|fatal|abort|sanitizer", ptail, re.I):
                        extra["proxy_log_tail"] = ptail
                if backend is not None and rec["status"] != "ok":
                    extra["backend_log_tail"] = tail(backend.err_path, 1500)
        return self.finish(rec, extra, total)

    def measure(self, rec, wl, stdout, stderr, rc, s0, s1, extra):
        kind = wl["kind"]
        problems = []
        try:
            if kind == "ping":
                m, raw, problems = parse_ping(stdout, wl)
            elif kind == "iperf3":
                m, raw, problems = parse_iperf3(stdout)
            else:
                m, raw, problems = parse_sockperf(stdout, wl["length"])
        except (ValueError, KeyError, TypeError) as e:
            rec["error"] = "; ".join(x for x in (rec["error"], f"unparsable client output: {e}") if x)
            extra["client_stdout_tail"] = stdout[-3000:]
            extra["client_stderr_tail"] = stderr
            return
        extra["client_output"] = raw
        if stderr.strip():
            extra["client_stderr_tail"] = stderr
        if rc not in (0, None):
            problems.append(f"client exit code {rc}")
        if not m.get("bytes_oneway"):
            problems.append("no bytes moved")
        window = s1["t"] - s0["t"]
        cpu = {"window_s": round(window, 4)}
        cpu["proc"] = cpu_delta(s0, s1, "proc")
        cpu["stats"] = cpu_delta(s0, s1, "stats_cpu")
        cpu["machine"] = cpu_delta(s0, s1, "machine")
        roles = {}
        for role in ("client", "backend", "proxy"):
            b = s1["procs"].get(role)
            if b:
                a0 = s0["procs"].get(role) or {"user_s": 0.0, "sys_s": 0.0}
                roles[role] = round(b["user_s"] - a0["user_s"] + b["sys_s"] - a0["sys_s"], 4)
        cpu["roles_s"] = roles
        if cpu["machine"] and window > 0:
            busy = cpu["machine"]["user_s"] + cpu["machine"]["sys_s"] - cpu["machine"].get("irq_s", 0)
            # CPU the machine spent outside client, backend and proxy, irq/softirq time left out (on
            # loopback that is the TCP stack working for them): other users of the machine
            m["other_busy_pct"] = max(0.0, 100.0 * (busy - sum(roles.values())) / (window * NCPU))
            m["softirq_busy_pct"] = 100.0 * cpu["machine"].get("irq_s", 0) / (window * NCPU)
        if s0.get("stats_bytes") is not None and s1.get("stats_bytes") is not None:
            m["proxy_stats_bytes"] = s1["stats_bytes"] - s0["stats_bytes"]
        if s0.get("stats_counters") is not None and s1.get("stats_counters") is not None:
            c0, c1 = s0["stats_counters"], s1["stats_counters"]
            m["proxy_counters"] = {k: v - c0.get(k, 0) for k, v in c1.items()}
        used = cpu["stats"] if rec["cpu_source"] == "stats-socket" and cpu["stats"] else cpu["proc"]
        if rec["cpu_source"] == "stats-socket" and not cpu["stats"]:
            rec["cpu_source"] = "/proc/PID/stat (stats snapshot failed)"
        gbytes = (m.get("bytes_oneway") or 0) / GB
        if used and gbytes > 0:
            m["proxy_cpu_s"] = {"user": used["user_s"], "sys": used["sys_s"],
                                "total": used["user_s"] + used["sys_s"]}
            m["cpu_s_per_gb"] = {k: v / gbytes for k, v in m["proxy_cpu_s"].items()}
        if cpu["machine"] and gbytes > 0:
            m["machine_cpu_s_per_gb"] = (cpu["machine"]["user_s"] + cpu["machine"]["sys_s"]) / gbytes
        m["cpu"] = cpu
        rec["metrics"] = m
        if problems or rec["error"]:
            rec["error"] = "; ".join(x for x in [rec["error"]] + problems if x)
            rec["status"] = "failed"
        else:
            rec["status"] = "ok"

    def finish(self, rec, extra, total):
        rec["finished_at"] = now_iso()
        self.runs.append(rec)
        doc = dict(rec)
        if extra:
            doc["raw"] = extra
        with open(os.path.join(self.raw, rec["id"] + ".json"), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
        log(progress_line(rec, total))
        return rec

    # ---- plan

    def plan(self):
        a = self.a
        items = []
        for rep in range(1, a.reps + 1):
            for w in a.workloads:
                for p in a.paths:  # interleaved: A B C D E, A B C D E, ...
                    items.append((p, w, a.main_workers, rep, "main"))
            if not a.no_sweep:
                for w in a.sweep_workloads:
                    for n in a.workers:
                        if n == a.main_workers and w in a.workloads:
                            continue  # measured by the main matrix already
                        for p in a.paths:
                            if p != "direct":
                                items.append((p, w, n, rep, "sweep"))
        return items


def fmt_s(x):
    return ("%g" % x)


def progress_line(rec, total):
    head = f"[{rec['seq']}/{total}] {rec['path']} {rec['workload']} w{rec['workers']} rep {rec['rep']}: "
    if rec["status"] != "ok":
        return head + rec["status"].upper() + " - " + str(rec.get("error"))
    m = rec["metrics"]
    parts = []
    if m.get("msg_per_s") is not None and WORKLOADS[rec["workload"]].get("mode") != "stream":
        parts.append(f"{m['msg_per_s']:,.0f} msg/s")
    else:
        parts.append(f"{m['gbit_per_s']:.2f} Gbit/s")
    p99 = (m.get("latency_us") or {}).get("p99")
    if p99 is not None:
        parts.append(f"p99 {p99:.1f}us")
    if m.get("cpu_s_per_gb"):
        parts.append(f"cpu {m['cpu_s_per_gb']['total']:.2f} s/GB ({rec['cpu_source']})")
    return head + ", ".join(parts)


# --------------------------------------------------------------------------------------------
# machine facts


def cmd_out(argv, timeout=10):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return (r.stdout + r.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"


def read1(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def background_busy(seconds=1.0):
    """Share of all cores busy while the bench runs nothing: other users of a shared machine."""
    a = machine_cpu()
    time.sleep(seconds)
    b = machine_cpu()
    busy = (b["user_s"] - a["user_s"]) + (b["sys_s"] - a["sys_s"])
    return round(100.0 * busy / (seconds * NCPU), 1)


def machine_facts(bin_dir):
    model = None
    for line in (read1("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = None
    for line in (read1("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal"):
            mem = line.split(":", 1)[1].strip()
    git = cmd_out(["git", "-C", REPO, "rev-parse", "HEAD"])
    try:
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        dirty = ""
    return {
        "hostname": socket.gethostname(),
        "kernel": platform.release(),
        "cpu_model": model,
        "cores": NCPU,
        "memory": mem,
        "loadavg_at_start": read1("/proc/loadavg"),
        "background_busy_pct_at_start": background_busy(),
        "virtualization": cmd_out(["systemd-detect-virt"]) if shutil.which("systemd-detect-virt") else None,
        "pipe_max_size": read1("/proc/sys/fs/pipe-max-size"),
        "sysctl": {k: read1("/proc/sys/" + k.replace(".", "/")) for k in (
            "net.core.rmem_max", "net.core.wmem_max", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
            "net.ipv4.tcp_congestion_control", "net.core.somaxconn")},
        "cpufreq_governor": read1("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "versions": {
            "proxy": cmd_out([os.path.join(bin_dir, "proxy"), "--version"]),
            "tcp_ping_server": cmd_out([os.path.join(bin_dir, "tcp_ping_server"), "--version"]),
            "tcp_ping_client": cmd_out([os.path.join(bin_dir, "tcp_ping_client"), "--version"]),
            "haproxy": cmd_out(["haproxy", "-v"]).splitlines()[0] if shutil.which("haproxy") else None,
            "iperf3": cmd_out(["iperf3", "--version"]).splitlines()[0] if shutil.which("iperf3") else None,
            "sockperf": re.sub(r"\x1b\[[0-9;]*m", "", cmd_out(["sockperf", "--version"])).splitlines()[0]
            if shutil.which("sockperf") else None,
            "gnuplot": cmd_out(["gnuplot", "--version"]) if shutil.which("gnuplot") else None,
            "python": platform.python_version(),
        },
        "git_commit": git,
        "git_dirty_files": [l[3:] for l in dirty.splitlines() if len(l) > 3],
    }


# --------------------------------------------------------------------------------------------
# summary


def stat3(vals):
    vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def primary_unit(wname):
    wl = WORKLOADS[wname]
    if wl["kind"] == "sockperf" or wl.get("mode") == "pingpong":
        return "msg_per_s"
    return "gbit_per_s"


def per_mb(m, key):
    """Our proxy's syscall counters per MB (10^6 bytes) moved one way, from the stats socket."""
    c = m.get("proxy_counters")
    mb = (m.get("bytes_oneway") or 0) / 1e6
    if not c or mb <= 0 or m.get("cpu", {}).get("window_s") is None:
        return None
    if key == "io_calls":
        v = sum(c.get(k, 0) for k in ("splice_calls", "read_calls", "write_calls"))
    else:
        v = c.get(key)
    return None if v is None else v / mb


def aggregate(runs):
    groups = {}
    for r in runs:
        groups.setdefault((r["workload"], r["path"], r["workers"]), []).append(r)
    aggs = []
    for (w, p, n), rs in groups.items():
        ok = [r for r in rs if r["status"] == "ok"]
        ms = [r["metrics"] for r in ok]
        unit = primary_unit(w)
        a = {"workload": w, "path": p, "workers": n, "runs": len(rs), "ok": len(ok),
             "failed": sum(r["status"] == "failed" for r in rs),
             "skipped": sum(r["status"] == "skipped" for r in rs),
             "errors": sorted({r["error"] for r in rs if r.get("error")}),
             "unit": unit,
             "throughput": stat3([m.get(unit) for m in ms]),
             "gbit_per_s": stat3([m.get("gbit_per_s") for m in ms]),
             "msg_per_s": stat3([m.get("msg_per_s") for m in ms]),
             "latency_us": {k: stat3([(m.get("latency_us") or {}).get(k) for m in ms])
                            for k in ("p50", "p90", "p99", "p999", "max")},
             "cpu_s_per_gb": {k: stat3([(m.get("cpu_s_per_gb") or {}).get(k) for m in ms])
                              for k in ("total", "user", "sys")},
             "machine_cpu_s_per_gb": stat3([m.get("machine_cpu_s_per_gb") for m in ms]),
             "other_busy_pct": stat3([m.get("other_busy_pct") for m in ms]),
             "proxy_calls_per_mb": {k: stat3([per_mb(m, k) for m in ms])
                                    for k in ("io_calls", "splice_calls", "read_calls", "write_calls", "eagain")},
             "bytes_moved_oneway": sum(m.get("bytes_oneway") or 0 for m in ms),
             "cpu_sources": sorted({r.get("cpu_source") for r in ok if r.get("cpu_source")})}
        aggs.append(a)
    # ratios of medians, within this run only
    idx = {(a["workload"], a["path"], a["workers"]): a for a in aggs}

    def med(a, key="throughput"):
        if a is None:
            return None
        v = a[key] if key == "throughput" else a["cpu_s_per_gb"]["total"]
        return v["median"] if v else None

    for a in aggs:
        w, p, n = a["workload"], a["path"], a["workers"]
        direct = [x for x in aggs if x["workload"] == w and x["path"] == "direct"]
        d = max(direct, key=lambda x: x["ok"]) if direct else None
        r = {}
        mine = med(a)
        if mine is not None and med(d):
            r["throughput_vs_direct"] = mine / med(d)
        h = idx.get((w, SAME_MODE_HAPROXY.get(p), n))
        if mine is not None and med(h):
            r["throughput_vs_haproxy_same_mode"] = mine / med(h)
        if med(a, "cpu") is not None and med(h, "cpu"):
            r["cpu_per_gb_vs_haproxy_same_mode"] = med(a, "cpu") / med(h, "cpu")
        rw = idx.get((w, RW_OF.get(p), n))
        if mine is not None and med(rw):
            r["throughput_splice_vs_rw"] = mine / med(rw)
        if med(a, "cpu") is not None and med(rw, "cpu"):
            r["cpu_per_gb_splice_vs_rw"] = med(a, "cpu") / med(rw, "cpu")
        a["ratios"] = r
    order = {p: i for i, p in enumerate(PATHS)}
    worder = {w: i for i, w in enumerate(WORKLOADS)}
    aggs.sort(key=lambda a: (worder[a["workload"]], a["workers"], order[a["path"]]))
    return aggs


def path_checks(runs, paths):
    """Which paths moved bytes at least once (the --quick smoke test)."""
    moved = {p: 0 for p in paths}
    for r in runs:
        if r["status"] == "ok" and r["path"] in moved:
            moved[r["path"]] += r["metrics"].get("bytes_oneway") or 0
    return moved


# --------------------------------------------------------------------------------------------
# report


def fnum(v, unit):
    if v is None:
        return "–"
    if unit == "msg_per_s":
        return f"{v:,.0f}"
    if unit == "gbit_per_s":
        return f"{v:.2f}"
    if unit == "us":
        return f"{v:.1f}" if v < 1000 else f"{v:,.0f}"
    if unit == "cpu":
        return f"{v:.3g}" if v >= 0.01 else f"{v:.2g}"
    if unit == "ratio":
        return f"{v:.2f}×"
    return f"{v:g}"


def frange(s, unit, with_range=True):
    if not s:
        return "–"
    if not with_range or s["n"] < 2:
        return fnum(s["median"], unit)
    return f"{fnum(s['median'], unit)} [{fnum(s['min'], unit)}–{fnum(s['max'], unit)}]"


UNIT_LABEL = {"msg_per_s": "msg/s", "gbit_per_s": "Gbit/s"}


def runs_cell(a):
    if a["ok"] == a["runs"]:
        return f"{a['ok']}/{a['runs']}"
    bits = []
    if a["failed"]:
        bits.append(f"**{a['failed']} FAILED**")
    if a["skipped"]:
        bits.append(f"{a['skipped']} skipped")
    return f"{a['ok']}/{a['runs']} ({', '.join(bits)})"


def haproxy_version(mach):
    m = re.search(r"version (\S+)", str(mach["versions"].get("haproxy") or ""))
    return m.group(1) if m else "?"


def write_report(out, meta, runs, aggs, plots, interrupted, goal_results):
    cfg, mach = meta["config"], meta["machine"]
    L = []
    L.append(f"# spliceproxy benchmark — {mach['hostname']} — {meta['started_at'][:10]}")
    L.append("")
    if interrupted:
        L.append("> **Interrupted**: this report covers only the runs completed before the stop.")
        L.append("")
    L.append(f"Command: `{' '.join(meta['command'])}`  ")
    L.append(f"Started {meta['started_at']}, finished {meta.get('finished_at', '?')}. "
             f"{cfg['reps']} repetition(s), {cfg['duration']} s per run after {cfg['warmup']} s warm-up, "
             f"variants interleaved per repetition; main matrix with {cfg['main_workers']} proxy worker(s) / "
             f"HAProxy threads. Runs: {len(runs)} ({sum(r['status'] == 'ok' for r in runs)} ok, "
             f"{sum(r['status'] == 'failed' for r in runs)} failed, "
             f"{sum(r['status'] == 'skipped' for r in runs)} skipped).")
    L.append("")
    L.append("Cells are **median [min–max]** over the repetitions. Only ratios within this one run "
             "mean anything: the machine is shared and noisy, and client, proxy and server share its cores.")
    L.append("")

    idx = {(a["workload"], a["path"], a["workers"]): a for a in aggs}
    mw = cfg["main_workers"]
    # headline
    L.append("## Headline")
    L.append("")
    hdr = ["path"]
    for w in HEADLINE:
        if w in cfg["workloads"]:
            hdr.append(f"{w} {UNIT_LABEL[primary_unit(w)]}")
            if primary_unit(w) == "msg_per_s":
                hdr.append(f"{w} p99 µs")
    cpu_cols = [w for w in ("iperf3-P1", "iperf3-P4", "pp-1k-1c", "pp-1k-64c") if w in cfg["workloads"]]
    hdr += [f"CPU-s/GB {w}" for w in cpu_cols]
    L.append("| " + " | ".join(hdr) + " |")
    L.append("|" + "---|" * len(hdr))
    for p in cfg["paths"]:
        row = [p]
        for w in HEADLINE:
            if w not in cfg["workloads"]:
                continue
            a = idx.get((w, p, mw))
            u = primary_unit(w)
            row.append(fnum(a["throughput"]["median"], u) if a and a["throughput"] else
                       ("**FAILED**" if a and a["failed"] else "skipped" if a else "–"))
            if u == "msg_per_s":
                row.append(fnum(a["latency_us"]["p99"]["median"], "us") if a and a["latency_us"]["p99"] else "–")
        for w in cpu_cols:
            a = idx.get((w, p, mw))
            c = a["cpu_s_per_gb"]["total"] if a else None
            row.append(fnum(c["median"], "cpu") if c else "–")
        L.append("| " + " | ".join(row) + " |")
    L.append("")

    if goal_results:
        L += goals.markdown(goal_results)
    L.append("## Definitions")
    L.append("")
    L.append("* **Paths**: `direct` = client → backend; `proxy-rw` / `proxy-splice` / `proxy-auto` = our `proxy --mode rw|splice|auto "
             f"-w {mw}`; `haproxy` = HAProxy {haproxy_version(mach)} in TCP mode, `nbthread` = "
             "workers, no splice; `haproxy-splice` = the same with `option splice-request` + `option splice-response`. "
             f"Opt-in: `proxy-rw-busy` = `proxy --mode rw --busy-poll {cfg.get('busy_poll') or 50}` and `haproxy-busy` = "
             "`haproxy` with `busy-polling` in `global`; each spins a core while it waits, so they are compared "
             "with each other. "
             "HAProxy keeps its defaults otherwise (tune.bufsize 16 KiB, pipes of the system default size); "
             f"our proxy uses its defaults (--buffer-size {cfg.get('buffer_size') or '64K'}, "
             f"--pipe-size {cfg.get('pipe_size') or '1M'}). The config used is in `haproxy-splice.cfg`.")
    L.append("* **Throughput**: ping-pong workloads and sockperf in round trips per second (`msg/s`); "
             "stream workloads in Gbit/s of payload that came back to the client (one way, so each byte "
             "crossed the proxy twice); iperf3 in Gbit/s received by `iperf3 -s` (`end.sum_received`).")
    L.append("* **Latency**: round-trip time in µs as the client reports it (tcp_ping_client `latency_us`; "
             "sockperf with `--full-rtt`). iperf3 and stream workloads report none.")
    L.append("* **CPU-s/GB**: the proxy process's user + system CPU seconds (all threads), divided by the "
             "GB (10⁹ bytes) of application payload moved **one way** in the same window: for echo workloads "
             "the bytes the client received back (the proxy forwarded each of them twice, so it moved 2× that "
             "in total, ≈ its stats `totals.bytes`), for iperf3 the bytes the client sent. Ours: delta of "
             "the cumulative `process.cpu.user_s/sys_s` from the stats socket when the build has it, else "
             "`/proc/PID/stat` utime/stime; HAProxy: `/proc/PID/stat`. Window: tcp_ping_client runs from the "
             "end of its `--warmup` to its exit (its summary excludes the warm-up); iperf3 and sockperf from start "
             "to exit, with their bytes counted over the whole run too (iperf3's `-O` intervals included; "
             "sockperf's total messages) — their reported throughput and latency still exclude the warm-up. "
             "`machine CPU-s/GB` is the same with all CPU time of the machine (client, server, proxy, softirq) "
             "from /proc/stat: on loopback the kernel's TCP work lands partly on whichever process sends.")
    L.append("* **Ratios**: medians divided. `×direct`: throughput relative to no proxy. `×HAProxy`: ours "
             "relative to HAProxy in the same mode (rw vs haproxy, splice vs haproxy-splice). `splice/rw`: a "
             "splice path relative to the rw path of the same proxy (throughput; and CPU-s/GB).")
    L.append("* **other busy %**: share of all cores busy during the measured window with anything but "
             "client, backend and proxy, irq/softirq time left out (/proc/stat minus the three processes' "
             "CPU): an interference gauge. High values mean the run shared the machine with other work.")
    L.append("")

    L.append("## Machine")
    L.append("")
    L.append("| fact | value |")
    L.append("|---|---|")
    for k in ("hostname", "kernel", "cpu_model", "cores", "memory", "virtualization", "pipe_max_size",
              "cpufreq_governor", "loadavg_at_start", "background_busy_pct_at_start",
              "background_busy_pct_at_end", "git_commit"):
        L.append(f"| {k} | {mach.get(k)} |")
    for b, f in (mach.get("binaries") or {}).items():
        L.append(f"| {b} binary | " + (f"sha256 {f['sha256']}…, built {f['mtime']}" if f else "missing") + " |")
    L.append(f"| binaries built from | {mach.get('binaries_built_from', 'work tree')} |")
    if mach.get("git_dirty_files") and mach.get("binaries_built_from", "work tree") == "work tree":
        L.append(f"| modified tracked files at run time (the binaries may include such work) | "
                 f"{', '.join(mach['git_dirty_files'])} |")
    for k, v in mach["sysctl"].items():
        L.append(f"| {k} | {v} |")
    for k, v in mach["versions"].items():
        L.append(f"| {k} version | {str(v).splitlines()[0] if v else v} |")
    srcs = sorted({r.get("cpu_source") for r in runs if r.get("cpu_source") and r["path"] in OURS})
    L.append(f"| CPU source for our proxy | {', '.join(srcs) or '–'} |")
    if meta.get("client_note"):
        L.append(f"| tcp_ping_client | {meta['client_note']} |")
    L.append("")

    L.append("## Results per workload")
    L.append("")
    for w in cfg["workloads"]:
        rows = [a for a in aggs if a["workload"] == w and a["workers"] == mw]
        if not rows:
            continue
        u = primary_unit(w)
        L.append(f"### {w}")
        L.append("")
        L.append(WORKLOADS[w]["desc"] + ".")
        L.append("")
        has_lat = any(a["latency_us"]["p50"] for a in rows)
        hdr = ["path", f"throughput {UNIT_LABEL[u]}", "×direct", "×HAProxy", "splice/rw"]
        if has_lat:
            hdr += ["p50 µs", "p99 µs", "p99.9 µs", "max µs"]
        hdr += ["proxy CPU-s/GB", "user", "sys", "CPU splice/rw", "CPU ×HAProxy", "machine CPU-s/GB",
                "other busy %", "runs ok"]
        L.append("| " + " | ".join(hdr) + " |")
        L.append("|" + "---|" * len(hdr))
        for a in rows:
            r = a["ratios"]
            row = [a["path"], frange(a["throughput"], u) if a["ok"] else "**FAILED**" if a["failed"] else "skipped",
                   fnum(r.get("throughput_vs_direct"), "ratio"),
                   fnum(r.get("throughput_vs_haproxy_same_mode"), "ratio"),
                   fnum(r.get("throughput_splice_vs_rw"), "ratio")]
            if has_lat:
                row += [frange(a["latency_us"][k], "us", k != "max") for k in ("p50", "p99", "p999")]
                row += [fnum(a["latency_us"]["max"]["max"], "us") if a["latency_us"]["max"] else "–"]
            c = a["cpu_s_per_gb"]
            row += [frange(c["total"], "cpu"), frange(c["user"], "cpu", False), frange(c["sys"], "cpu", False),
                    fnum(r.get("cpu_per_gb_splice_vs_rw"), "ratio"),
                    fnum(r.get("cpu_per_gb_vs_haproxy_same_mode"), "ratio"),
                    frange(a["machine_cpu_s_per_gb"], "cpu", False),
                    f"{a['other_busy_pct']['median']:.0f}" if a["other_busy_pct"] else "–", runs_cell(a)]
            L.append("| " + " | ".join(row) + " |")
        L.append("")

    sweep = [a for a in aggs if a["workload"] in cfg["sweep_workloads"] and a["path"] != "direct"]
    wset = sorted({a["workers"] for a in sweep})
    if len(wset) > 1:
        L.append("## Worker sweep")
        L.append("")
        L.append("Proxy workers (ours) / `nbthread` (HAProxy) varied on a subset of workloads. Cells: "
                 "throughput median [min–max] · proxy CPU-s/GB median. On a machine with few cores the "
                 "client and server compete with the proxy for them: see README for larger machines.")
        L.append("")
        for w in cfg["sweep_workloads"]:
            rows = [a for a in sweep if a["workload"] == w]
            if not rows:
                continue
            u = primary_unit(w)
            L.append(f"### {w} ({UNIT_LABEL[u]})")
            L.append("")
            L.append("| path | " + " | ".join(f"w={n}" for n in wset) + " |")
            L.append("|---|" + "---|" * len(wset))
            for p in cfg["paths"]:
                if p == "direct":
                    continue
                cells = []
                for n in wset:
                    a = idx.get((w, p, n))
                    if not a:
                        cells.append("–")
                    elif not a["ok"]:
                        cells.append("**FAILED**")
                    else:
                        c = a["cpu_s_per_gb"]["total"]
                        cells.append(f"{frange(a['throughput'], u)} · {fnum(c['median'], 'cpu') if c else '–'}")
                L.append(f"| {p} | " + " | ".join(cells) + " |")
            L.append("")

    calls = [a for a in aggs if a["path"] in OURS and a["workers"] == mw
             and (a.get("proxy_calls_per_mb") or {}).get("io_calls")]
    if calls:
        L.append("## Our proxy's system calls")
        L.append("")
        L.append("From the stats socket's worker counters, per MB (10⁶ bytes) moved one way (median over reps). "
                 "splice moves a chunk with two calls (socket → pipe, pipe → socket), rw with a read and a write; "
                 "`eagain` counts calls that found nothing to do.")
        L.append("")
        L.append("| workload | path | I/O calls/MB | splice | read | write | eagain |")
        L.append("|---|---|---|---|---|---|---|")
        for a in calls:
            c = a["proxy_calls_per_mb"]
            L.append(f"| {a['workload']} | {a['path']} | " + " | ".join(
                f"{c[k]['median']:,.1f}" if c.get(k) else "–"
                for k in ("io_calls", "splice_calls", "read_calls", "write_calls", "eagain")) + " |")
        L.append("")

    if plots:
        L.append("## Plots")
        L.append("")
        for name, title in plots:
            L.append(f"### {title}")
            L.append("")
            L.append(f"![{title}]({name})")
            L.append("")

    L.append("## Failed, skipped and suspicious runs")
    L.append("")
    bad = [r for r in runs if r["status"] != "ok"]
    odd = []
    for r in runs:
        if r["status"] != "ok":
            continue
        m = r["metrics"]
        mx = (m.get("latency_us") or {}).get("max")
        if mx is not None and mx >= 100000:
            odd.append((r, f"max latency {mx / 1000:.0f} ms (stall?)"))
        if m.get("errors_nonzero"):
            odd.append((r, f"client errors {m['errors_nonzero']}"))
        watch = ["connect_failed", "connect_timeout", "rw_fallbacks", "pipe_resize_failures", "idle_timeouts"]
        if WORKLOADS[r["workload"]]["kind"] == "ping":
            watch.append("resets")  # iperf3 and sockperf end their connections with RSTs: normal there
        bad_counters = {k: v for k, v in (m.get("proxy_counters") or {}).items() if v and k in watch}
        if bad_counters:
            odd.append((r, f"proxy counters {bad_counters}"))
        if m.get("proxy_stats_bytes") is not None and m.get("bytes_oneway"):
            ratio = m["proxy_stats_bytes"] / m["bytes_oneway"]
            exp = 2.0 if WORKLOADS[r["workload"]]["kind"] != "iperf3" else 1.0
            if r.get("cpu_window") == "after_warmup" and not (0.8 * exp <= ratio <= 1.25 * exp):
                odd.append((r, f"proxy stats bytes / client one-way bytes = {ratio:.2f} (expected ≈{exp:g})"))
    retx = {}
    for r in runs:
        if r["status"] == "ok" and r["metrics"].get("retransmits") is not None:
            retx.setdefault((r["workload"], r["path"]), []).append(r["metrics"]["retransmits"])
    if retx:
        cells = [f"{w} {p}: {statistics.median(v):g} [{min(v)}–{max(v)}]" for (w, p), v in sorted(
            retx.items(), key=lambda kv: (list(WORKLOADS).index(kv[0][0]), PATHS.index(kv[0][1])))]
        L.append("iperf3 sender-side TCP retransmits per run, median [min–max] (on loopback they come from "
                 "the machine's load and buffer pressure, the direct path has them too): " + "; ".join(cells) + ".")
        L.append("")
    if not bad and not odd:
        L.append("No failed, skipped or suspicious run.")
    for r in bad:
        L.append(f"* `{r['id']}` **{r['status']}**: {r.get('error')}")
    for r, why in odd:
        L.append(f"* `{r['id']}` ok but {why}")
    L.append("")
    L.append("Raw per-run JSON (client output, CPU samples, argv, proxy log tail when relevant) is in `raw/`; "
             "`summary.json` holds every run and the aggregates.")
    L.append("")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(L))


# --------------------------------------------------------------------------------------------
# plots (gnuplot)


def gp_str(s):
    return '"' + s.replace('"', "'") + '"'


def plot_all(out, cfg, aggs):
    if not shutil.which("gnuplot"):
        log("gnuplot not found: no plots")
        return []
    pdir = os.path.join(out, "plots")
    os.makedirs(pdir, exist_ok=True)
    term_list = cmd_out(["gnuplot", "-e", "set terminal"])
    term = "pngcairo" if "pngcairo" in term_list else "png"
    mw = cfg["main_workers"]
    idx = {(a["workload"], a["path"], a["workers"]): a for a in aggs}
    wls = [w for w in cfg["workloads"] if any((idx.get((w, p, mw)) or {}).get("throughput")
                                              for p in cfg["paths"])]
    made = []

    def layout(n):
        cols = min(3, max(1, n))
        rows = max(1, math.ceil(n / cols))
        return rows, cols

    def header(name, rows, cols, title, h_per=330, w_per=480):
        return [f"set terminal {term} size {cols * w_per},{rows * h_per + 40} font 'sans,9'",
                f"set output {gp_str(os.path.join(out, name))}",
                "set datafile missing '?'",
                "set style fill solid 0.8 border -1",
                "set grid ytics lc rgb '#dddddd'",
                "set key off",
                f"set multiplot layout {rows},{cols} title {gp_str(title)} font 'sans,11'"]

    def q(v):
        return "?" if v is None else repr(float(v))

    def run_gp(name, lines):
        script = os.path.join(pdir, name.replace(".png", ".gp"))
        with open(script, "w") as f:
            f.write("\n".join(lines + ["unset multiplot", ""]))
        r = subprocess.run(["gnuplot", script], capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or not os.path.exists(os.path.join(out, name)):
            log(f"gnuplot failed for {name}: {r.stderr.strip()[:500]}")
            return False
        return True

    # 1. throughput per path, one panel per workload
    if wls:
        rows, cols = layout(len(wls))
        g = header("throughput.png", rows, cols,
                   f"Throughput per path (median, bars: min–max; {mw} workers)")
        for w in wls:
            dat = os.path.join(pdir, f"tp-{w}.dat")
            with open(dat, "w") as f:
                f.write("# path median min max color\n")
                for i, p in enumerate(cfg["paths"]):
                    t = (idx.get((w, p, mw)) or {}).get("throughput")
                    f.write(f"{p} {q(t and t['median'])} {q(t and t['min'])} {q(t and t['max'])} "
                            f"0x{COLORS[p][1:]}\n")
            g += [f"set title {gp_str(w)}", f"set ylabel {gp_str(UNIT_LABEL[primary_unit(w)])}",
                  "set yrange [0:*]", "set boxwidth 0.7", "set xtics rotate by -25 nomirror",
                  f"plot {gp_str(dat)} using 0:2:5:xtic(1) with boxes lc rgb variable, "
                  f"'' using 0:2:3:4 with yerrorbars lc rgb 'black' pt -1"]
        if run_gp("throughput.png", g):
            made.append(("throughput.png", "Throughput per path"))

    # 2. proxy CPU-s per GB, stacked sys (dark) + user (light)
    cw = [w for w in wls if any((idx.get((w, p, mw)) or {}).get("cpu_s_per_gb", {}).get("total")
                                for p in cfg["paths"])]
    if cw:
        rows, cols = layout(len(cw))
        g = header("cpu_per_gb.png", rows, cols,
                   "Proxy CPU seconds per GB moved one way (median; dark = system, light = user; bars: min–max of total)")
        paths = [p for p in cfg["paths"] if p != "direct"]
        for w in cw:
            dat = os.path.join(pdir, f"cpu-{w}.dat")
            with open(dat, "w") as f:
                f.write("# path total_median total_min total_max sys_median color\n")
                for p in paths:
                    c = (idx.get((w, p, mw)) or {}).get("cpu_s_per_gb") or {}
                    t, s = c.get("total"), c.get("sys")
                    f.write(f"{p} {q(t and t['median'])} {q(t and t['min'])} {q(t and t['max'])} "
                            f"{q(s and s['median'])} 0x{COLORS[p][1:]}\n")
            g += [f"set title {gp_str(w)}", "set ylabel 'CPU-s/GB'", "set yrange [0:*]", "set boxwidth 0.7",
                  "set xtics rotate by -25 nomirror",
                  f"plot {gp_str(dat)} using 0:2:6:xtic(1) with boxes lc rgb variable fs transparent solid 0.35, "
                  f"'' using 0:5:6 with boxes lc rgb variable fs solid 0.9, "
                  f"'' using 0:2:3:4 with yerrorbars lc rgb 'black' pt -1"]
        if run_gp("cpu_per_gb.png", g):
            made.append(("cpu_per_gb.png", "Proxy CPU-seconds per GB"))

    # 3. latency percentiles
    lw = [w for w in wls if any(((idx.get((w, p, mw)) or {}).get("latency_us") or {}).get("p50")
                                for p in cfg["paths"])]
    if lw:
        rows, cols = layout(len(lw))
        g = header("latency.png", rows, cols,
                   "Round-trip latency percentiles, µs (median over reps; log scale): p50 / p99 / p99.9")
        g += ["set key top left font 'sans,8'"]
        for w in lw:
            dat = os.path.join(pdir, f"lat-{w}.dat")
            with open(dat, "w") as f:
                f.write("# path p50 p99 p999\n")
                for p in cfg["paths"]:
                    l = (idx.get((w, p, mw)) or {}).get("latency_us") or {}
                    f.write(f"{p} " + " ".join(q((l.get(k) or {}).get("median")) for k in ("p50", "p99", "p999"))
                            + "\n")
            g += [f"set title {gp_str(w)}", "set ylabel 'µs'", "set logscale y", "set yrange [*:*]",
                  "set boxwidth 0.25", "set xtics rotate by -25 nomirror", "set xrange [-0.6:*]",
                  f"plot {gp_str(dat)} using ($0-0.27):2:xtic(1) with boxes lc rgb '#4c72b0' title 'p50', "
                  f"'' using ($0):3 with boxes lc rgb '#dd8452' title 'p99', "
                  f"'' using ($0+0.27):4 with boxes lc rgb '#c44e52' title 'p99.9'",
                  "unset logscale y", "set xrange [*:*]"]
        if run_gp("latency.png", g):
            made.append(("latency.png", "Latency percentiles"))

    # 4. throughput and CPU-s/GB vs workers
    sw = [w for w in cfg["sweep_workloads"] if len({a["workers"] for a in aggs
                                                     if a["workload"] == w and a["path"] != "direct"}) > 1]
    if sw:
        g = header("workers.png", 2, len(sw), "Throughput (top) and proxy CPU-s/GB (bottom) vs workers/nbthread",
                   h_per=360, w_per=max(720, 1000 // len(sw)))
        g += ["set key outside right top font 'sans,8'"]
        paths = [p for p in cfg["paths"] if p != "direct"]
        for what in ("throughput", "cpu"):
            for w in sw:
                wset = sorted({a["workers"] for a in aggs if a["workload"] == w and a["path"] != "direct"})
                plots_ = []
                for j, p in enumerate(paths):
                    dx = (j - (len(paths) - 1) / 2) * 0.04  # side by side, so error bars do not hide each other
                    dat = os.path.join(pdir, f"workers-{what}-{w}-{p}.dat")
                    with open(dat, "w") as f:
                        for n in wset:
                            a = idx.get((w, p, n))
                            s = (a or {}).get("throughput") if what == "throughput" else \
                                ((a or {}).get("cpu_s_per_gb") or {}).get("total")
                            f.write(f"{n} {q(s and s['median'])} {q(s and s['min'])} {q(s and s['max'])}\n")
                    plots_.append(f"{gp_str(dat)} using ($1+{dx:.3f}):2:3:4 with yerrorlines lc rgb '{COLORS[p]}' "
                                  f"lw 2 pt 7 title {gp_str(p)}")
                if what == "throughput":
                    d = [a for a in aggs if a["workload"] == w and a["path"] == "direct" and a["throughput"]]
                    if d:
                        plots_.append(f"{d[0]['throughput']['median']!r} with lines dt 2 lc rgb '#888888' "
                                      f"title 'direct'")
                ylabel = UNIT_LABEL[primary_unit(w)] if what == "throughput" else "CPU-s/GB"
                g += [f"set title {gp_str(w)}", f"set ylabel {gp_str(ylabel)}", "set xlabel 'workers'",
                      "set yrange [0:*]", f"set xrange [{wset[0] - 0.3}:{wset[-1] + 0.3}]", "set xtics 1",
                      "plot " + ", ".join(plots_)]
        if run_gp("workers.png", g):
            made.append(("workers.png", "Throughput and CPU vs workers"))
    return made


# --------------------------------------------------------------------------------------------
# setup helpers


def ensure_tools(need):
    missing = [pkg for tool, pkg in need if not shutil.which(tool)]
    if not missing:
        return
    log(f"installing missing tools: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(["apt-get", "update"], env=env, timeout=300, check=False,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends"] + missing, env=env,
                       timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        log(f"apt-get failed: {e}")


def run_quiet(argv, timeout):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        sys.stderr.write((r.stdout + r.stderr)[-4000:])
        raise subprocess.CalledProcessError(r.returncode, argv)


def build_clean(rev, dst):
    """Builds the benchmarked targets from a clean export of git revision `rev` (no uncommitted
    work of anyone sharing the tree), in dst/. Returns the bin directory and the full commit id."""
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", rev], capture_output=True, text=True,
                            check=True).stdout.strip()
    src = os.path.join(dst, "src")
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    log(f"building {commit[:12]} from a clean export in {src}")
    archive = subprocess.Popen(["git", "-C", REPO, "archive", commit], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", src], stdin=archive.stdout, check=True, timeout=300)
    archive.stdout.close()
    if archive.wait() != 0:
        sys.exit(f"git archive {rev} failed")
    bdir = os.path.join(src, "build")
    run_quiet(["cmake", "-S", src, "-B", bdir, "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_TESTING=OFF"], 600)
    run_quiet(["cmake", "--build", bdir, "-j", str(max(1, NCPU)), "--target", "proxy", "tcp_ping_server",
               "tcp_ping_client"], 1800)
    return os.path.join(bdir, "bin"), commit


def ensure_build(args):
    bins = [os.path.join(args.bin_dir, b) for b in ("proxy", "tcp_ping_server")]
    build_dir = os.path.dirname(os.path.abspath(args.bin_dir))
    have = all(os.access(b, os.X_OK) for b in bins)
    if args.no_build and have:
        return
    log(f"building in {build_dir} (cmake, Release)")
    try:
        if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
            run_quiet(["cmake", "-S", REPO, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release"], 600)
        # only what the bench runs: not the test suites
        run_quiet(["cmake", "--build", build_dir, "-j", str(max(1, NCPU)), "--target", "proxy",
                   "tcp_ping_server", "tcp_ping_client"], 1800)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        if have:
            log(f"WARNING: build failed ({e}); using the existing binaries in {args.bin_dir}")
        else:
            sys.exit(f"build failed and no binaries in {args.bin_dir}: {e}")


def parse_list(s, valid=None, what="item"):
    items = [x.strip() for x in s.split(",") if x.strip()]
    if valid is not None:
        bad = [x for x in items if x not in valid]
        if bad:
            sys.exit(f"unknown {what}: {', '.join(bad)} (known: {', '.join(valid)})")
    return items


def parse_workers(s):
    """'1..4', '1-4', '1,2,4' or 'N' (1..N)."""
    out = []
    for part in s.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*(?:\.\.|-)\s*(\d+)", part)
        if m:
            out += list(range(int(m.group(1)), int(m.group(2)) + 1))
        elif part.isdigit():
            out.append(int(part))
        elif part:
            sys.exit(f"bad --workers: {s}")
    return sorted(set(n for n in out if n > 0))


def default_out(quick):
    day = datetime.date.today().isoformat()
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
    base = os.path.join(HERE, "results", f"{day}-{host}" + ("-quick" if quick else ""))
    out, i = base, 2
    while os.path.exists(out) and os.listdir(out):
        out = f"{base}-{i}"
        i += 1
    return out


def build_args(argv):
    ap = argparse.ArgumentParser(
        prog="bench/run.sh", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Benchmark direct / proxy-rw / proxy-splice / haproxy / haproxy-splice on loopback.",
        epilog="Workloads: " + ", ".join(WORKLOADS) + "\nSee bench/README.md.")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 1 rep, short runs, a subset of workloads, every path; < 2 min")
    ap.add_argument("--out", help="result directory (default bench/results/<date>-<host>[-quick])")
    ap.add_argument("--reps", type=int, help="repetitions of every variant (default 3; quick 1)")
    ap.add_argument("--duration", type=float, help="measured seconds per run (default 5; quick 1)")
    ap.add_argument("--warmup", type=float, help="warm-up seconds excluded (default 1; quick 0.5)")
    ap.add_argument("--workers", default=f"1..{NCPU}",
                    help="worker counts for the sweep, e.g. 1..4 or 1,2,4 (default 1..cores)")
    ap.add_argument("--main-workers", type=int, default=1,
                    help="proxy workers / HAProxy nbthread in the main matrix (default 1, as issue 9's "
                         "goals; the sweep adds the other counts)")
    ap.add_argument("--workloads", help="comma list (default: all; quick: " + ",".join(QUICK_WORKLOADS) + ")")
    ap.add_argument("--sweep-workloads", default=",".join(SWEEP_WORKLOADS),
                    help="workloads of the worker sweep (default %(default)s)")
    ap.add_argument("--no-sweep", action="store_true", help="skip the worker sweep")
    ap.add_argument("--paths", default=",".join(DEFAULT_PATHS),
                    help="comma list of " + ", ".join(PATHS) + " (default: all but " + ", ".join(BUSY_PATHS) + ")")
    ap.add_argument("--busy-poll", type=int, default=50, metavar="USEC",
                    help="our proxy's --busy-poll in the proxy-rw-busy path (default 50)")
    ap.add_argument("--client-threads", type=int, default=NCPU,
                    help="tcp_ping_client -T cap (min(conns, this); default cores)")
    ap.add_argument("--server-workers", type=int, default=NCPU, help="tcp_ping_server -w (default cores)")
    ap.add_argument("--pipe-size", help="our proxy's --pipe-size (default: its own)")
    ap.add_argument("--buffer-size", help="our proxy's --buffer-size (default: its own)")
    ap.add_argument("--proxy-arg", action="append", default=[], help="extra argument for our proxy (repeat)")
    ap.add_argument("--pin", help="pin proxy workers / HAProxy threads to this CPU list (proxy --pin, cpu-map)")
    ap.add_argument("--pin-client", help="taskset -c LIST for the load client")
    ap.add_argument("--pin-server", help="taskset -c LIST for the backend server")
    ap.add_argument("--run-timeout", type=float, default=30.0,
                    help="seconds allowed past warm-up + duration before a run is killed (default 30)")
    ap.add_argument("--server-host", help="backends run elsewhere at this address (not started here); "
                    "see --echo-port, --iperf3-port, --sockperf-port")
    ap.add_argument("--server-bind", default="127.0.0.1", help="address local backends listen on")
    ap.add_argument("--echo-port", type=int, default=9999)
    ap.add_argument("--iperf3-port", type=int, default=5201)
    ap.add_argument("--sockperf-port", type=int, default=11111)
    ap.add_argument("--proxy-listen", default="127.0.0.1", help="address the proxy listens on")
    ap.add_argument("--proxy-host", help="address clients use to reach the proxy (default: --proxy-listen)")
    ap.add_argument("--bin-dir", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--no-build", action="store_true", help="do not run cmake (binaries must exist)")
    ap.add_argument("--git-rev", metavar="REV",
                    help="build the binaries from a clean export of this git revision (e.g. HEAD) instead "
                    "of the work tree, which others may be editing")
    ap.add_argument("--no-install", action="store_true", help="do not apt-get install missing tools")
    ap.add_argument("--strict", action="store_true", help="exit non-zero if any run failed")
    ap.add_argument("--keep-tmp", action="store_true", help="keep raw-tmp/ (process logs, configs)")
    ap.add_argument("--report-from", metavar="DIR",
                    help="only rebuild summary.json, report.md and plots from DIR/raw and DIR/meta.json")
    a = ap.parse_args(argv)
    q = a.quick
    a.reps = a.reps or (1 if q else 3)
    a.duration = a.duration if a.duration is not None else (1.0 if q else 5.0)
    a.warmup = a.warmup if a.warmup is not None else (0.5 if q else 1.0)
    a.paths = parse_list(a.paths, PATHS, "path")
    a.workloads = parse_list(a.workloads or ",".join(QUICK_WORKLOADS if q else WORKLOADS), WORKLOADS, "workload")
    a.sweep_workloads = parse_list(a.sweep_workloads, WORKLOADS, "workload")
    a.workers = parse_workers(a.workers)
    if q and "--workers" not in " ".join(argv):
        a.workers = sorted({1, a.main_workers})
    if q and "--sweep-workloads" not in " ".join(argv):
        a.sweep_workloads = ["iperf3-P4"]
    return a


def config_of(a):
    return {k: getattr(a, k) for k in ("quick", "reps", "duration", "warmup", "workers", "main_workers",
                                       "workloads", "sweep_workloads", "no_sweep", "paths", "client_threads",
                                       "server_workers", "pipe_size", "buffer_size", "busy_poll", "proxy_arg", "pin",
                                       "pin_client", "pin_server", "run_timeout", "server_host", "proxy_listen")}


def finalize(out, meta, runs, interrupted):
    cfg = meta["config"]
    aggs = aggregate(runs)
    goal_results = goals.evaluate(runs, primary_unit)
    plots = plot_all(out, cfg, aggs)
    moved = path_checks(runs, cfg["paths"])
    summary = {"schema": SCHEMA, **meta, "interrupted": interrupted, "aggregates": aggs, "goals": goal_results,
               "checks": {"bytes_moved_per_path": moved,
                          "paths_without_bytes": [p for p, b in moved.items() if not b],
                          "failed_runs": [r["id"] for r in runs if r["status"] == "failed"],
                          "skipped_runs": [r["id"] for r in runs if r["status"] == "skipped"]},
               "runs": runs}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    write_report(out, meta, runs, aggs, plots, interrupted, goal_results)
    return summary, plots


def main(argv):
    a = build_args(argv)
    if a.report_from:
        out = a.report_from
        with open(os.path.join(out, "meta.json")) as f:
            meta = json.load(f)
        runs = []
        for p in sorted(glob.glob(os.path.join(out, "raw", "*.json"))):
            with open(p) as f:
                d = json.load(f)
            d.pop("raw", None)
            runs.append(d)
        runs.sort(key=lambda r: r["seq"])
        meta.setdefault("finished_at", runs[-1]["finished_at"] if runs else None)
        _, plots = finalize(out, meta, runs, meta.get("interrupted", False))
        log(f"report rebuilt: {os.path.join(out, 'report.md')} ({len(plots)} plots)")
        return 0

    t_begin = time.monotonic()
    if not a.no_install:
        need = [("gnuplot", "gnuplot-nox"), ("jq", "jq")]
        if "haproxy" in a.paths or "haproxy-splice" in a.paths:
            need.append(("haproxy", "haproxy"))
        if any(WORKLOADS[w]["kind"] == "iperf3" for w in a.workloads + a.sweep_workloads):
            need.append(("iperf3", "iperf3"))
        if any(WORKLOADS[w]["kind"] == "sockperf" for w in a.workloads + a.sweep_workloads):
            need.append(("sockperf", "sockperf"))
        ensure_tools(need)
    out = os.path.abspath(a.out or default_out(a.quick))
    os.makedirs(out, exist_ok=True)
    built_from = "work tree"
    if a.git_rev:
        a.bin_dir, commit = build_clean(a.git_rev, os.path.join(out, "raw-tmp"))
        built_from = f"clean export of {commit}"
    else:
        ensure_build(a)
    bench = Bench(a, out)
    meta = {"started_at": now_iso(), "command": ["bench/run.sh"] + list(argv), "config": config_of(a),
            "machine": dict(machine_facts(bench.bin), binaries=bench.bin_facts, binaries_built_from=built_from),
            "client_note": None if bench.client_ok else bench.client_reason}
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    with open(os.path.join(out, "haproxy-splice.cfg"), "w") as f:
        f.write(haproxy_config("haproxy-splice", a.main_workers, a.proxy_listen, "PORT", "BACKEND", "PORT",
                               a.pin))
    if not bench.client_ok:
        log(f"NOTE: {bench.client_reason}: tcp_ping_client workloads are reported as skipped")

    plan = bench.plan()
    log(f"{len(plan)} runs, results in {out}")
    interrupted = False

    def on_term(signum, frame):
        raise KeyboardInterrupt

    # explicit: a shell that starts us in the background may have left SIGINT ignored
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGTERM, on_term)
    try:
        for i, (p, w, n, rep, phase) in enumerate(plan, 1):
            bench.run_one(i, len(plan), p, w, n, rep, phase)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: stopping the children, writing a partial report")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.procs.stop_all()
    meta["finished_at"] = now_iso()
    meta["interrupted"] = interrupted
    if not interrupted:
        meta["machine"]["background_busy_pct_at_end"] = background_busy()
    meta["elapsed_s"] = round(time.monotonic() - t_begin, 1)
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    summary, plots = finalize(out, meta, bench.runs, interrupted)
    if not a.keep_tmp:
        shutil.rmtree(bench.tmp, ignore_errors=True)

    rc = 0
    chk = summary["checks"]
    log(f"report: {os.path.join(out, 'report.md')}  ({len(plots)} plots, {meta['elapsed_s']} s)")
    if chk["failed_runs"]:
        log(f"{len(chk['failed_runs'])} failed run(s): {', '.join(chk['failed_runs'])}")
        if a.strict:
            rc = 1
    if chk["paths_without_bytes"]:
        log(f"FAIL: no bytes moved on path(s): {', '.join(chk['paths_without_bytes'])}")
        rc = 1
    if not os.path.exists(os.path.join(out, "report.md")) or not plots:
        log("FAIL: report.md or plots missing")
        rc = 1
    if interrupted:
        rc = 130
    if a.quick and rc == 0:
        log(f"quick smoke test passed: every path moved bytes; report, {len(plots)} plot(s), summary.json written")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
