"""bench/run.sh: the command line of the benchmark (bench/README.md says how to run and read it)."""

import argparse
import datetime
import glob
import json
import math
import os
import re
import shutil
import signal
import socket
import time

from . import archive, goals
from . import paths as P
from . import workloads as W
from .aggregate import aggregate, best_settings, path_checks, primary_unit
from .build import build_rev, ensure_build, ensure_tools
from .machine import background_busy, machine_facts
from .plots import plot_all
from .report import write_report
from .runner import Bench, plan
from .util import HERE, NCPU, REPO, BadArgs, log, now_iso, parse_list, parse_or_exit, parse_size, parse_workers

SCHEMA = "spliceproxy-bench/1"
SIZES = "16K,64K,256K,1M"
SIZE_SWEEP_WORKLOADS = "iperf3-P1,pp-1k-1c"

# Seconds one run takes, from the --quick run on the 2-vCPU VM: the client's own time (iperf3 and
# sockperf round to whole seconds, sockperf adds ~2.2 s of its own, curl ~0.6 s per 256 MiB fetch
# and its sha256) plus ~0.3 s of starting and ending three processes.
RUN_OVERHEAD_S = 0.3


def run_seconds(a, kind):
    dur = max(1, round(a.duration))
    return RUN_OVERHEAD_S + {
        "ping": a.warmup + a.duration,
        "iperf3": math.ceil(a.warmup) + dur,
        "sockperf": dur + 2.2,
        "redis": a.duration,
        "wrk": dur,
        "curl": 0.6 * W.curl_fetches(a.duration),
        "mixed": max(1.5, a.duration / 2) + max(0.5, a.warmup) + a.duration + 1.5,
    }[kind]


def estimate_s(a, items):
    """How long a plan takes (the machine facts add ~3 s)."""
    return 3 + sum(run_seconds(a, W.WORKLOADS[w]["kind"]) for _p, w, _n, _rep, _phase in items)


def default_out(quick):
    day = datetime.date.today().isoformat()
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
    base = os.path.join(HERE, "results", f"{day}-{host}" + ("-quick" if quick else ""))
    out, i = base, 2
    while os.path.exists(out) and os.listdir(out):
        out = f"{base}-{i}"
        i += 1
    return out


EPILOG = f"""Workloads: {", ".join(W.WORKLOADS)}
Paths: {", ".join(P.NAMES)}; NAME@SIZE for {", ".join(P.SIZABLE)} (e.g. proxy-rw@256K).

How long (2-vCPU VM; --plan prints the count and estimate of any command line without running it):
  bench/run.sh --quick                      79 runs, ~3 min
  bench/run.sh                              every workload, 3 reps, 5 s, both sweeps: 522 runs, ~57 min
  bench/run.sh --git-rev HEAD --reps 5 --duration 4 --no-sweep \\
    --workloads iperf3-P1,iperf3-P4,pp-1k-1c,pp-1k-64c,{",".join(W.REAL_CLIENTS)}
                                            the committed run's command: 520 runs, ~42 min + ~2 min build
See bench/README.md."""


def build_args(argv):
    ap = argparse.ArgumentParser(
        prog="bench/run.sh", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Benchmark direct / our proxy (rw, splice, auto, uring, sockmap) / HAProxy (with and without splice) on "
                    "loopback, with a size sweep of the fixed modes and real clients (redis, nginx).",
        epilog=EPILOG)
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 1 rep, 1 s runs, a subset of workloads, every path; ~3 min")
    ap.add_argument("--plan", action="store_true", help="print the number of runs and the estimated time, run nothing")
    ap.add_argument("--out", help="result directory (default bench/results/<date>-<host>[-quick])")
    ap.add_argument("--reps", type=int, help="repetitions of every variant (default 3; quick 1)")
    ap.add_argument("--duration", type=float, help="measured seconds per run (default 5; quick 1)")
    ap.add_argument("--warmup", type=float, help="warm-up seconds excluded (default 1; quick 0.5)")
    ap.add_argument("--workers", default=f"1..{NCPU}",
                    help="worker counts for the worker sweep, e.g. 1..4 or 1,2,4 (default 1..cores)")
    ap.add_argument("--main-workers", type=int, default=1,
                    help="proxy workers / HAProxy nbthread in the main matrix (default 1, as the goals)")
    ap.add_argument("--workloads", help="comma list (default: all; quick: " + ",".join(W.QUICK) + ")")
    ap.add_argument("--sweep-workloads", default=",".join(W.SWEEP),
                    help="workloads of the worker sweep (default %(default)s)")
    ap.add_argument("--no-sweep", action="store_true", help="skip the worker sweep")
    ap.add_argument("--paths", default=",".join(P.DEFAULT),
                    help="comma list of " + ", ".join(P.NAMES) + " or NAME@SIZE (default: all but "
                    + ", ".join(P.OPT_IN) + ")")
    ap.add_argument("--sizes", default=SIZES,
                    help="size ceilings of the size sweep: rw --buffer-size, splice --pipe-size, HAProxy "
                         "tune.bufsize / tune.pipesize (default %(default)s)")
    ap.add_argument("--size-sweep-workloads", default=SIZE_SWEEP_WORKLOADS,
                    help="workloads of the size sweep, interleaved with the main matrix (default %(default)s)")
    ap.add_argument("--size-sweep-paths",
                    help="paths swept over --sizes (default: those of --paths with a size knob: "
                         + ", ".join(P.SIZABLE) + ")")
    ap.add_argument("--no-size-sweep", action="store_true", help="skip the size sweep")
    ap.add_argument("--busy-poll", type=int, default=50, metavar="USEC",
                    help="our proxy's --busy-poll in the proxy-rw-busy path (default 50)")
    ap.add_argument("--client-threads", type=int, default=NCPU,
                    help="tcp_ping_client -T / wrk -t cap (min(conns, this); default cores)")
    ap.add_argument("--server-workers", type=int, default=NCPU, help="tcp_ping_server -w (default cores)")
    ap.add_argument("--pipe-size", help="our proxy's --pipe-size on every path (default: its own)")
    ap.add_argument("--buffer-size", help="our proxy's --buffer-size on every path (default: its own)")
    ap.add_argument("--proxy-arg", action="append", default=[], help="extra argument for our proxy (repeat)")
    ap.add_argument("--pin", help="pin proxy workers / HAProxy threads to this CPU list (proxy --pin, cpu-map)")
    ap.add_argument("--pin-client", help="taskset -c LIST for the load client")
    ap.add_argument("--pin-server", help="taskset -c LIST for the backend server")
    ap.add_argument("--run-timeout", type=float, default=30.0,
                    help="seconds allowed past warm-up + duration before a run is killed (default 30)")
    ap.add_argument("--server-host", help="backends run elsewhere at this address (not started here); "
                    "see --echo-port, --iperf3-port, --sockperf-port, --redis-port, --http-port")
    ap.add_argument("--server-bind", default="127.0.0.1", help="address local backends listen on")
    ap.add_argument("--echo-port", type=int, default=9999)
    ap.add_argument("--iperf3-port", type=int, default=5201)
    ap.add_argument("--sockperf-port", type=int, default=11111)
    ap.add_argument("--redis-port", type=int, default=6379)
    ap.add_argument("--http-port", type=int, default=80, help="remote nginx serving small.bin and big.bin")
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
                    help="only rebuild summary.json, report.md and plots from DIR/meta.json and DIR/raw.tar.xz "
                         "(or DIR/raw/); the archive is only read")
    return parse_or_exit(ap, argv, lambda a: check_args(a, argv))


def check_args(a, argv):
    q = a.quick
    given = " ".join(argv)
    a.reps = a.reps if a.reps is not None else (1 if q else 3)
    a.duration = a.duration if a.duration is not None else (1.0 if q else 5.0)
    a.warmup = a.warmup if a.warmup is not None else (0.5 if q else 1.0)
    if a.reps < 1 or not (0 < a.duration <= 600) or not (0 <= a.warmup <= 60):
        raise BadArgs("--reps >= 1, --duration 0..600, --warmup 0..60")
    a.paths = parse_list(a.paths, what="path")
    for p in a.paths:
        P.get(p)
    a.workloads = parse_list(a.workloads or ",".join(W.QUICK if q else W.DEFAULT), W.WORKLOADS, "workload")
    a.sweep_workloads = parse_list(a.sweep_workloads, W.WORKLOADS, "workload")
    if a.server_host and "curl-256m" in a.workloads:
        raise BadArgs("curl-256m checks the sha256 of a file the local nginx serves: not with --server-host")
    a.workers = parse_workers(a.workers)
    if q and "--workers" not in given:
        a.workers = sorted({1, 2, a.main_workers})
    if q and "--sweep-workloads" not in given:
        a.sweep_workloads = ["iperf3-P1"]
    a.sizes = sorted({parse_size(s) for s in parse_list(a.sizes, what="size")})
    if q and "--sizes" not in given:
        a.sizes = [16 << 10, 1 << 20]
    a.size_sweep_workloads = parse_list(a.size_sweep_workloads, W.WORKLOADS, "workload")
    if q and "--size-sweep-workloads" not in given:
        a.size_sweep_workloads = ["iperf3-P1"]
    a.size_sweep_workloads = [w for w in a.size_sweep_workloads if w in a.workloads]
    if a.size_sweep_paths is None:
        a.size_sweep_paths = [p for p in a.paths if p in P.SIZABLE]
    else:
        a.size_sweep_paths = parse_list(a.size_sweep_paths, P.SIZABLE, "sizable path")
    if a.no_size_sweep:
        a.size_sweep_workloads, a.size_sweep_paths = [], []


def config_of(a):
    return {k: getattr(a, k) for k in ("quick", "reps", "duration", "warmup", "workers", "main_workers",
                                       "workloads", "sweep_workloads", "no_sweep", "paths", "client_threads",
                                       "server_workers", "pipe_size", "buffer_size", "busy_poll", "proxy_arg", "pin",
                                       "pin_client", "pin_server", "run_timeout", "server_host", "proxy_listen",
                                       "sizes", "size_sweep_workloads", "size_sweep_paths")}


def load_runs(root):
    """Every run's record from root/raw/*.json, in run order (root: see archive.unpacked)."""
    runs = []
    for p in sorted(glob.glob(os.path.join(root, "raw", "*.json"))):
        with open(p) as f:
            d = json.load(f)
        d.pop("raw", None)
        runs.append(d)
    runs.sort(key=lambda r: r["seq"])
    return runs


def finalize(out, meta, runs, interrupted, plot_data=None):
    cfg = meta["config"]
    aggs = aggregate(runs)
    bests = best_settings(aggs)
    goal_results = goals.evaluate(runs, primary_unit)
    fair = goals.evaluate_fair(runs, aggs, bests, cfg)
    uring = goals.evaluate(runs, primary_unit, goals.uring_goals(bests))
    sockmap = goals.evaluate(runs, primary_unit, goals.sockmap_goals(bests))
    mixed = goals.evaluate(runs, primary_unit, goals.mixed_goals())
    plots = plot_all(out, cfg, aggs, plot_data)
    moved = path_checks(runs, sorted({r["path"] for r in runs} | set(cfg["paths"]), key=P.sort_key))
    summary = {"schema": SCHEMA, **meta, "interrupted": interrupted, "aggregates": aggs, "goals": goal_results,
               "goals_issue17": fair, "goals_issue14": uring, "goals_issue15": sockmap, "goals_mixed": mixed, "best_settings": bests,
               "checks": {"bytes_moved_per_path": moved,
                          "paths_without_bytes": [p for p, b in moved.items() if not b],
                          "failed_runs": [r["id"] for r in runs if r["status"] == "failed"],
                          "skipped_runs": [r["id"] for r in runs if r["status"] == "skipped"]},
               "runs": runs}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    write_report(out, meta, runs, aggs, plots, interrupted, goal_results, bests, fair,
                 [(goals.TITLE_MIXED, mixed), (goals.TITLE_URING, uring), (goals.TITLE_SOCKMAP, sockmap)])
    return summary, plots


def main(argv):
    a = build_args(argv)
    if a.report_from:
        out = a.report_from
        with open(os.path.join(out, "meta.json")) as f:
            meta = json.load(f)
        with archive.unpacked(out) as root:
            runs = load_runs(root)
            meta.setdefault("finished_at", runs[-1]["finished_at"] if runs else None)
            # the plots' data go beside the raw data: a scratch copy when they come from the archive
            _, plots = finalize(out, meta, runs, meta.get("interrupted", False), os.path.join(root, "plots"))
        log(f"report rebuilt: {os.path.join(out, 'report.md')} ({len(plots)} plots)")
        return 0

    items = plan(a)
    est = estimate_s(a, items)
    if a.plan:
        phases = {}
        for it in items:
            phases[it[4]] = phases.get(it[4], 0) + 1
        log(f"{len(items)} runs (" + ", ".join(f"{k} {v}" for k, v in phases.items()) +
            f"), estimated {est / 60:.0f} min on a 2-vCPU VM")
        return 0
    t_begin = time.monotonic()
    if not a.no_install:
        need = [("gnuplot", "gnuplot-nox"), ("jq", "jq")]
        if any(P.is_haproxy(p) for p in a.paths):
            need.append(("haproxy", "haproxy"))
        need += W.tools_for(a.workloads + (a.sweep_workloads if not a.no_sweep else []))
        ensure_tools(list(dict.fromkeys(need)))
    out = os.path.abspath(a.out or default_out(a.quick))
    os.makedirs(out, exist_ok=True)
    built_from = "work tree"
    if a.git_rev:
        a.bin_dir, commit = build_rev(a.git_rev, os.path.join(out, "raw-tmp"))
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
        f.write(P.haproxy_config("haproxy-splice", a.main_workers, a.proxy_listen, "PORT", "BACKEND", "PORT",
                               a.pin))
    if not bench.client_ok:
        log(f"NOTE: {bench.client_reason}: tcp_ping_client workloads are reported as skipped")

    log(f"{len(items)} runs (estimated {est / 60:.0f} min), results in {out}")
    interrupted = False

    def on_term(signum, frame):
        raise KeyboardInterrupt

    # explicit: a shell that starts us in the background may have left SIGINT ignored
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGTERM, on_term)
    try:
        for i, (p, w, n, rep, phase) in enumerate(items, 1):
            bench.run_one(i, len(items), p, w, n, rep, phase)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: stopping the children, writing a partial report")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.procs.stop_all()
        bench.cleanup()
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
    packed = archive.pack(out)  # raw/ and plots/ into one raw.tar.xz: a handful of files to commit
    if packed:
        log(f"raw data: {packed}")

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

