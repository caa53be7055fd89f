#!/usr/bin/env python3
"""spliceproxy tuner (bench/tune): which worker and size setting moves the most bytes on this machine?

Runs one fixed load (tcp_ping_client streaming through the proxy to a tcp_ping_server echo) for
every combination of mode (rw, splice), worker count (1..N), pinned or not (--pin), accept
path (acceptor thread or --reuseport) and size ceiling (--buffer-size / --pipe-size, --sizes),
repeated and interleaved. Throughput and CPU come from the proxy's own stats socket: deltas of totals.bytes and of cpu.user_s + cpu.sys_s (totals and per
worker) between two snapshots that bracket the measured window. Prints a table and the
recommended setting: the highest throughput; among settings tied with it (within the noise), the
fewest CPU-seconds per GB; then the fewest workers.

Topologies: `netns` (default when root) runs client, proxy and server in three network namespaces
made by scripts/netns-topology, the proxy listening on its client-facing interface and forwarding
out of the other one (like a host with two NICs); `loopback` runs everything on 127.0.0.1.

Python 3 standard library only. See docs/multi-nic.md.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from . import procs as proclib
from .build import build_rev
from .procs import free_ports
from .sample import cpu_s, proc_cpu, read_stats
from .tunereport import aggregate, explain, gbit, fmt_list, plot, recommend, table  # noqa: F401
from .util import GB, REPO, BadArgs, fmt_size, log, parse_list, parse_or_exit, parse_size, parse_workers

TOPOLOGY = os.path.join(REPO, "scripts", "netns-topology")
PROXY_PORT = 9998
SERVER_PORT = 9999
SCHEMA = "spliceproxy-tune/1"


class Interrupted(Exception):
    pass


class RunFailed(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


# ------------------------------------------------------------------------------------------------
# processes: every one we start is ended by its PID


class Procs(proclib.Procs):
    """Logs numbered in start order under one directory."""

    def __init__(self, logdir):
        super().__init__(RunFailed)
        self.logdir = logdir
        self.count = 0

    def start(self, name, argv):
        self.count += 1
        return super().start(name, argv, os.path.join(self.logdir, f"{self.count:03d}-{name}"))


def tail(path, n=600):
    return proclib.tail(path, n).strip()


# ------------------------------------------------------------------------------------------------
# measurements


def unix_stats(path, timeout=2.0):
    """One snapshot from the proxy's stats socket (a path: reachable from any network namespace);
    OSError when there is none."""
    snap = read_stats("unix", path, timeout)
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
    c = proc_cpu(pid)
    return cpu_s(c) if c else 0.0


def machine_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    softirq = v[6] if len(v) > 6 else 0
    return sum(v[:8]) - idle, sum(v[:8]), softirq  # busy, total (guest time is inside user), softirq


def thread_cpu_now(pid, tid):
    """Field 39 of /proc/PID/task/TID/stat: the CPU the thread last ran on."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[36])
    except (OSError, IndexError, ValueError):
        return -1


# ------------------------------------------------------------------------------------------------
# settings


def size_knobs(mode):
    """The proxy flags a size ceiling sets in a mode, from bench's path table (auto: every fixed
    mode's knob, since it moves bytes both ways)."""
    from . import paths as P
    if mode == "auto":
        return [P.get(p).size_knob for p in ("proxy-rw", "proxy-splice")]
    return [P.get(f"proxy-{mode}").size_knob]


class Setting:
    def __init__(self, mode, workers, pinned, reuseport, balance, size=None):
        self.mode, self.workers, self.pinned, self.reuseport, self.balance = mode, workers, pinned, reuseport, balance
        self.size = size  # the size ceiling in bytes (--buffer-size / --pipe-size); None: the proxy's default

    @property
    def key(self):
        return (self.mode, self.workers, self.pinned, self.reuseport, self.balance, self.size)

    def size_name(self):
        return "default" if self.size is None else fmt_size(self.size)

    def name(self, balance_shown=False):
        s = f"{self.mode} w={self.workers} {'pinned' if self.pinned else 'unpinned'} " \
            f"{'reuseport' if self.reuseport else 'acceptor'}"
        return s + (f" {self.balance}" if balance_shown else "") + ("" if self.size is None else f" size={self.size_name()}")

    def series(self):  # a plot line: everything but the worker count
        return f"{self.mode} {'pinned' if self.pinned else 'unpinned'} {'reuseport' if self.reuseport else 'acceptor'}" \
               + ("" if self.balance == "round-robin" else f" {self.balance}") \
               + ("" if self.size is None else f" {self.size_name()}")

    def flags(self, cpus):
        f = ["--mode", self.mode, "-w", str(self.workers)]
        if self.size is not None:
            for knob in size_knobs(self.mode):
                f += [knob, fmt_size(self.size)]
        if self.pinned:
            f += ["--pin", ",".join(str(cpus[k % len(cpus)]) for k in range(self.workers))]
        if self.reuseport:
            f += ["--reuseport"]
        elif self.workers > 1 and self.balance != "round-robin":
            f += ["--balance", self.balance]
        return f

    def as_dict(self):
        return dict(mode=self.mode, workers=self.workers, pinned=self.pinned,
                    accept="reuseport" if self.reuseport else "acceptor", balance=self.balance,
                    size=self.size_name())


def plan(args):
    out = []
    for mode in args.modes:
        for w in args.workers:
            for pinned in args.pin:
                for reuseport in args.accept:
                    for bal in (["round-robin"] if reuseport or w == 1 else args.balance):
                        for size in args.sizes:
                            out.append(Setting(mode, w, pinned, reuseport, bal, size))
    return out


# ------------------------------------------------------------------------------------------------
# the environment: namespaces or loopback, the echo server, binaries


class Env:
    def __init__(self, args, procs, tmp):
        self.args, self.procs, self.tmp = args, procs, tmp
        self.topology = None
        self.server = None
        self.ns = {}

    def __enter__(self):
        a = self.args
        if a.topology == "netns":
            cmd = [TOPOLOGY, "up", "--tag", a.tag, "--json"]
            if a.delay:
                cmd += ["--delay", a.delay]
            if a.rate:
                cmd += ["--rate", a.rate]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise SystemExit(f"tune: {' '.join(cmd)} failed: {r.stderr.strip()}")
            self.topology = json.loads(r.stdout)
            t = self.topology
            self.ns = {k: t[k]["ns"] for k in ("client", "proxy", "server")}
            self.listen = t["proxy"]["client_side"]["addr"]
            self.server_addr = t["server"]["addr"]
            self.proxy_port, self.server_port = PROXY_PORT, SERVER_PORT
            log(f"topology spx-{a.tag}: client {t['client']['addr']} -> proxy {self.listen} | "
                f"{t['proxy']['server_side']['addr']} -> server {self.server_addr}"
                + (f" (links: {t['links'][0]['qdisc']['client']})" if t["links"][0]["qdisc"]["client"] != "none" else ""))
        else:
            self.listen = self.server_addr = "127.0.0.1"
            self.proxy_port, self.server_port = free_ports(2)
        return self

    def __exit__(self, *exc):
        # Cleanup is bounded and must not be cut short by a second Ctrl-C.
        saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            self.procs.stop_all()
            if self.topology is not None:
                subprocess.run([TOPOLOGY, "down", "--tag", self.args.tag, "--kill"], capture_output=True, timeout=60)
                self.topology = None
        finally:
            for sig, h in saved.items():
                signal.signal(sig, h)

    def argv(self, role, argv):
        if self.ns:
            return ["ip", "netns", "exec", self.ns[role]] + argv
        return argv

    def start_server(self, seq):
        """A fresh echo server for every run: no state carried from one run to the next."""
        self.server_sock = os.path.join(self.tmp, f"server-{seq}.stats")
        self.server = self.procs.start(f"server-{seq}", self.argv("server", [
            self.args.bin("tcp_ping_server"), "-s", self.server_addr, "-p", str(self.server_port),
            "-w", str(self.args.server_workers), "--stats", "unix:" + self.server_sock]))
        wait_stats(self.server_sock, self.server)

    def stop_server(self):
        self.procs.stop(self.server)
        self.server = None


# ------------------------------------------------------------------------------------------------
# one run


def run_one(env, setting, args, seq):
    procs, tmp = env.procs, env.tmp
    sock = os.path.join(tmp, f"proxy-{seq}.stats")
    proxy = client = None
    try:
        env.start_server(seq)
        proxy = procs.start(f"proxy-{seq}", env.argv("proxy", [
            args.bin("proxy"), "-s", env.listen, "-p", str(env.proxy_port), "-r", env.server_addr,
            "-c", str(env.server_port), "--stats", "unix:" + sock, "--grace", "1"] + setting.flags(args.cpus)))
        wait_stats(sock, proxy)
        total_s = args.warmup + args.duration + 1.0  # the measured window lies strictly inside
        cmd = [args.bin("tcp_ping_client"), "-s", env.listen, "-p", str(env.proxy_port), "--mode", args.load,
               "-c", str(args.connections), "-T", str(args.client_threads), "-t", f"{total_s:g}", "--json"]
        if args.length:
            cmd += ["-l", args.length]
        client = procs.start(f"client-{seq}", env.argv("client", cmd))
        started = time.monotonic()
        time.sleep(args.warmup)
        if client.poll() is not None:
            raise RunFailed(f"client exited early ({client.returncode}): {tail(client.err_path)}")
        pids = [proxy.pid, client.pid, env.server.pid]
        s0, m0, p0 = unix_stats(sock), machine_ticks(), sum(proc_seconds(p) for p in pids)
        time.sleep(args.duration)
        s1, m1, p1 = unix_stats(sock), machine_ticks(), sum(proc_seconds(p) for p in pids)
        pin_check = check_pins(proxy.pid, s1, setting, args.cpus) if setting.pinned else None
        try:
            client.wait(timeout=max(5.0, total_s - (time.monotonic() - started) + 10))
        except subprocess.TimeoutExpired:
            raise RunFailed("client did not finish in time")
        summary = None
        with open(client.out_path) as f:
            for line in reversed(f.read().splitlines()):
                try:
                    summary = json.loads(line)
                    break
                except ValueError:
                    continue
        errors = client_errors(summary)
        if client.returncode != 0 or errors:
            raise RunFailed(f"client exit {client.returncode}, errors {errors}: {tail(client.err_path, 300)}"
                            + diagnose(sock, env))
        return measure(s0, s1, m0, m1, p0, p1, pin_check, summary)
    finally:
        procs.stop(client)
        procs.stop(proxy)
        env.stop_server()


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
        out.append(dict(worker=w["id"], want=want, allowed=allowed, last_cpu=thread_cpu_now(pid, w["tid"]),
                        ok=allowed == [want] and thread_cpu_now(pid, w["tid"]) == want))
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


# ------------------------------------------------------------------------------------------------
# command line


def parse_cpus(s):
    out = []
    for part in s.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part.strip())
        if not m:
            raise BadArgs(f"bad --pin-cpus '{s}' (e.g. 0,1 or 0-3)")
        out += range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1)
    return out


def choice_list(s, valid, what):
    items = parse_list(s, valid, what)
    if not items:
        raise BadArgs(f"empty {what} (choose from {', '.join(valid)})")
    return items


def parse_sizes(s):
    """'default,64K,1M' -> [None, 65536, 1048576] (None: the proxy's own default)."""
    out = [None if x == "default" else parse_size(x) for x in parse_list(s, what="size")]
    if not out:
        raise BadArgs("--sizes is empty")
    return list(dict.fromkeys(out))


def parse_args(argv):
    ncpu = len(os.sched_getaffinity(0))
    ap = argparse.ArgumentParser(
        prog="bench/tune", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Find the proxy's best worker setting on this machine: a fixed load for every mode x "
                    "workers x pinned/unpinned x acceptor/reuseport, measured from the proxy's stats socket.",
        epilog="Example: bench/tune --git-rev HEAD --plot tune.png --json tune.json\nSee docs/multi-nic.md.")
    ap.add_argument("--topology", choices=["netns", "loopback"], default="netns" if os.geteuid() == 0 else "loopback",
                    help="netns: client/proxy/server namespaces via scripts/netns-topology (root; the default as root); "
                         "loopback: 127.0.0.1")
    ap.add_argument("--modes", default="rw,splice", help="proxy modes to try: rw, splice, auto (default rw,splice)")
    ap.add_argument("--sizes", default="default,64K,1M",
                    help="size ceilings to try: rw --buffer-size, splice --pipe-size (both for auto); 'default' is the "
                         "proxy's own (default %(default)s; e.g. default,16K,64K,256K,1M)")
    ap.add_argument("--workers", default=f"1..{ncpu}", help=f"worker counts: 1..N, 1,2,4 (default 1..{ncpu}, the CPUs we may use)")
    ap.add_argument("--pin", default="off,on", help="pinned variants: off,on (default both)")
    ap.add_argument("--accept", default="acceptor,reuseport", help="accept paths: acceptor,reuseport (default both)")
    ap.add_argument("--balance", default="round-robin",
                    help="acceptor balance policies to try: round-robin,least-connections (default round-robin)")
    ap.add_argument("--pin-cpus", help="CPUs for --pin, worker k on the k-th (default: the CPUs we may run on; "
                                       "on real hardware: the NIC's NUMA node / IRQ CPUs)")
    ap.add_argument("--duration", type=float, default=3.0, help="measured seconds per run (default 3)")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds of load before measuring (default 1)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of every setting, interleaved (default 2)")
    ap.add_argument("--noise", type=float, default=0.05,
                    help="smallest relative difference taken as real (default 0.05; the measured spread if larger)")
    ap.add_argument("--load", choices=["stream", "pingpong"], default="stream",
                    help="tcp_ping_client mode (default stream: 64 KiB writes through an echo server)")
    ap.add_argument("--connections", type=int, default=8, help="client connections (default 8)")
    ap.add_argument("--client-threads", type=int, default=1, help="client threads (default 1)")
    ap.add_argument("--length", help="client message size (default: the client's, 64K for stream)")
    ap.add_argument("--server-workers", type=int, default=1, help="echo server workers (default 1)")
    ap.add_argument("--delay", help="netns: one-way delay per link in ms (needs netem)")
    ap.add_argument("--rate", help="netns: rate limit per link (tc units, e.g. 10gbit)")
    ap.add_argument("--tag", help="netns topology tag (default tune<pid>)")
    ap.add_argument("--bin-dir", default=os.path.join(REPO, "build", "bin"), help="where the binaries are (default build/bin)")
    ap.add_argument("--git-rev", help="build the binaries from a clean export of this commit instead (cached)")
    ap.add_argument("--build-cache", default=os.path.join(tempfile.gettempdir(), "spliceproxy-tune-builds"),
                    help="where --git-rev builds go")
    ap.add_argument("--plot", metavar="FILE.png", help="write a gnuplot PNG (throughput and CPU-s/GB vs workers)")
    ap.add_argument("--json", metavar="FILE", help="write every run, the table and the recommendation as JSON")
    ap.add_argument("--keep-logs", action="store_true", help="keep the processes' output (printed path)")
    return parse_or_exit(ap, argv, lambda a: check_args(a, ncpu))


def check_args(a, ncpu):
    a.modes = choice_list(a.modes, ["rw", "splice", "auto"], "--modes")
    a.sizes = parse_sizes(a.sizes)
    a.workers = parse_workers(a.workers, ncpu)
    a.pin = [x == "on" for x in choice_list(a.pin, ["off", "on"], "--pin")]
    a.accept = [x == "reuseport" for x in choice_list(a.accept, ["acceptor", "reuseport"], "--accept")]
    a.balance = choice_list(a.balance, ["round-robin", "least-connections"], "--balance")
    a.cpus = parse_cpus(a.pin_cpus) if a.pin_cpus else sorted(os.sched_getaffinity(0))
    if not (0 < a.duration <= 600 and 0 <= a.warmup <= 60 and 1 <= a.repeat <= 20):
        raise BadArgs("--duration 0..600, --warmup 0..60, --repeat 1..20")
    if a.connections < 1 or a.client_threads < 1 or a.server_workers < 1:
        raise BadArgs("--connections, --client-threads and --server-workers must be at least 1")
    a.tag = a.tag or f"tune{os.getpid()}"
    if a.topology == "netns":
        if os.geteuid() != 0:
            raise BadArgs("--topology netns needs root (use --topology loopback)")
        if not os.access(TOPOLOGY, os.X_OK):
            raise SystemExit(f"tune: {TOPOLOGY} missing")
    elif a.delay or a.rate:
        raise BadArgs("--delay/--rate need --topology netns")


def main(argv):
    args = parse_args(argv)
    commit = None
    if args.git_rev:
        args.bin_dir, commit = build_rev(args.git_rev, args.build_cache)
    args.bin_dir = os.path.abspath(args.bin_dir)
    args.bin = lambda name: os.path.join(args.bin_dir, name)
    for b in ("proxy", "tcp_ping_server", "tcp_ping_client"):
        if not os.access(args.bin(b), os.X_OK):
            raise SystemExit(f"tune: {args.bin(b)} missing: build first (scripts/build) or use --git-rev HEAD")

    settings = plan(args)
    order = []
    for rep in range(args.repeat):  # interleaved; every other pass reversed, so drift evens out
        order += [(s, rep) for s in (settings if rep % 2 == 0 else settings[::-1])]
    per_run = args.warmup + args.duration + 1.5
    log(f"tune: {len(settings)} settings x {args.repeat} = {len(order)} runs of {args.warmup:g}+{args.duration:g} s "
        f"(~{len(order) * per_run / 60:.1f} min); load: tcp_ping_client --mode {args.load} -c {args.connections} "
        f"-T {args.client_threads}{' -l ' + args.length if args.length else ''}; topology {args.topology}; "
        f"binaries {args.bin_dir}; Ctrl-C stops (partial results are kept)")

    balance_shown = len(args.balance) > 1
    tmp = tempfile.mkdtemp(prefix="spx-tune-")
    procs = Procs(tmp)
    runs, interrupted = [], None
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    t_start = time.time()
    try:
        with Env(args, procs, tmp) as env:
            for i, (s, rep) in enumerate(order, 1):
                rec = dict(key=list(s.key), setting=s.as_dict(), rep=rep + 1, ok=False)
                try:
                    rec["m"] = run_one(env, s, args, i)
                    rec["ok"] = True
                    m = rec["m"]
                    log(f"[{i}/{len(order)}] {s.name(balance_shown)} rep {rep + 1}: {gbit(m['bytes_per_s']):.2f} Gbit/s, "
                        f"{m['cpu_s_per_gb']:.3f} CPU-s/GB, proxy {m['cpu_pct']:.0f}% CPU "
                        f"(workers {fmt_list([w['cpu_pct'] for w in m['workers']])}%), softirq {m['softirq_pct']:.0f}%, other {m['other_busy_pct']:.0f}%"
                        + ("" if not s.pinned else (" pins ok" if all(p["ok"] for p in m["pins"]) else " PINS WRONG")))
                except RunFailed as e:
                    rec["error"] = str(e)
                    log(f"[{i}/{len(order)}] {s.name(balance_shown)} rep {rep + 1}: FAILED: {e}")
                runs.append(rec)
    except Interrupted as e:
        interrupted = str(e)
        log(f"\ntune: interrupted ({e}) after {len(runs)} of {len(order)} runs; every process ended, topology removed")
    finally:
        procs.stop_all()
        if not args.keep_logs:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"logs in {tmp}")

    aggs = aggregate(settings, runs)
    rec = recommend(aggs, args.noise)
    failed = sum(1 for r in runs if not r["ok"])
    print()
    print(f"results ({len(runs) - failed} runs ok, {failed} failed{', PARTIAL' if interrupted else ''}; "
          f"throughput = bytes through the proxy in both directions / window, from its stats socket):")
    if aggs:
        print(table(aggs, balance_shown))
    print()
    print(explain(rec, aggs, balance_shown, args))

    if args.plot and aggs:
        if plot(os.path.abspath(args.plot), aggs, args):
            log(f"plot: {args.plot}")
    if args.json:
        out = dict(
            schema=SCHEMA, started=t_start, seconds=time.time() - t_start, interrupted=interrupted,
            command=["bench/tune"] + argv, commit=commit, bin_dir=args.bin_dir,
            machine=dict(cpus=os.cpu_count(), allowed_cpus=sorted(os.sched_getaffinity(0)), kernel=os.uname().release),
            config=dict(topology=args.topology, modes=args.modes, sizes=[fmt_size(x) if x else 'default' for x in args.sizes], workers=args.workers, duration=args.duration,
                        warmup=args.warmup, repeat=args.repeat, load=args.load, connections=args.connections,
                        client_threads=args.client_threads, length=args.length, server_workers=args.server_workers,
                        pin_cpus=args.cpus, delay=args.delay, rate=args.rate, noise_floor=args.noise),
            runs=runs,
            table=[dict(setting=a["setting"].as_dict(), runs=a["n"], bytes_per_s=a["tp"], bytes_per_s_min=a["tp_min"],
                        bytes_per_s_max=a["tp_max"], cpu_s_per_gb=a["cpg"], cpu_s_per_gb_min=a["cpg_min"],
                        cpu_s_per_gb_max=a["cpg_max"], proxy_cpu_pct=a["cpu_pct"], worker_cpu_pct=a["worker_cpu"],
                        worker_bytes_pct=a["worker_share"], worker_connections=a["worker_conns"],
                        pins_ok=a["pins_ok"], softirq_pct=a["softirq"], other_busy_pct=a["other"]) for a in aggs],
            recommendation=None if rec is None else dict(
                setting=rec["pick"]["setting"].as_dict(), flags=rec["pick"]["setting"].flags(args.cpus),
                bytes_per_s=rec["pick"]["tp"], cpu_s_per_gb=rec["pick"]["cpg"],
                throughput_noise=rec["tp_noise"], cpu_noise=rec["cpg_noise"],
                tied_on_throughput=[a["setting"].as_dict() for a in rec["tied"]],
                tied_on_cpu=[a["setting"].as_dict() for a in rec["cheap"]]))
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        log(f"json: {args.json}")
    if interrupted:
        return 130
    return 0 if rec is not None else 1


