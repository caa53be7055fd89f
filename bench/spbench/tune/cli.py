"""bench/tune's command line and its main loop: the plan run interleaved, then the table, the
recommendation, the plot and the JSON."""

import argparse
import json
import os
import shutil
import signal
import tempfile
import time

from ..build import build_rev
from ..util import REPO, BadArgs, fmt_size, log, parse_or_exit, parse_workers
from .env import TOPOLOGY, Env, run_one
from .measure import Procs, RunFailed
from .report import aggregate, explain, fmt_list, gbit, plot, recommend, table
from .settings import TUNE_MODES, choice_list, parse_cpus, parse_sizes, plan

SCHEMA = "spliceproxy-tune/1"


class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


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
    ap.add_argument("--modes", default="rw,splice", help=f"proxy modes to try: {', '.join(TUNE_MODES)} (default rw,splice; uring and sockmap have no "
                         "size ceiling: their default only)")
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
    a.modes = choice_list(a.modes, list(TUNE_MODES), "--modes")
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
