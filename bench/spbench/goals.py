"""The performance goals, checked against one benchmark run. Each table is titled by what it checks;
the issue that set its targets (9, 14, 15, 17) is only in its small print.

Every goal compares two paths measured in the same repetition (the variants run interleaved, so
the two runs of a pair shared the machine's state): the ratio is taken per repetition and the
goal is judged on the median of those paired ratios. A goal whose workload or worker count the
run did not include is reported as "not measured", never as met; a path of ours that the run did
not select (--paths) gets no column at all. A run of ours that failed (a reset, a mismatch) in a
goal's workload makes the goal missed, whatever the other repetitions measured: a path that does
not finish has not met a target.
"""

import statistics

from . import paths as P
from .aggregate import best_path, metric_median

# (id, workload, workers, ours, peer, metric, op, target, text)
#   metric: "throughput" (the workload's primary unit), "cpu" (proxy CPU-s/GB), "p99" (latency),
#           "slowdown" (the mixed workload's victim: p50 beside the streams ÷ p50 alone, one run)
#   peer: a path run in the same repetition, or ITSELF for a metric that is a ratio already
#   op: ">=" ours/peer must reach target; "<=" ours/peer must stay at or below it

ITSELF = "itself"

def bulk_goals(ours, peer):
    return [
        ("bulk-1-stream", "iperf3-P1", 1, ours, peer, "throughput", ">=", 1.2,
         "iperf3 -P 1, 1 worker / nbthread 1: throughput ≥ 1.2 × HAProxy"),
        ("bulk-4-streams", "iperf3-P4", 2, ours, peer, "throughput", ">=", 1.2,
         "iperf3 -P 4, 2 workers / nbthread 2: throughput ≥ 1.2 × HAProxy"),
        ("cpu-per-byte", "iperf3-P1", 1, ours, peer, "cpu", "<=", 0.8,
         "iperf3 -P 1, 1 worker: proxy CPU-s/GB ≤ 0.8 × HAProxy's"),
    ]


def pingpong_goals(ours, peer):
    goals = []
    for wl in ("pp-1k-1c", "sockperf-pp-1k"):
        goals += [
            ("pingpong-rate", wl, 1, ours, peer, "throughput", ">=", 1.3,
             "1 KiB ping-pong, 1 connection, 1 worker: msg/s ≥ 1.3 × HAProxy"),
            ("pingpong-vs-direct", wl, 1, ours, "direct", "throughput", ">=", 0.45,
             "1 KiB ping-pong, 1 connection, 1 worker: msg/s ≥ 0.45 × direct"),
            ("pingpong-p99", wl, 1, ours, peer, "p99", "<=", 1.0,
             "1 KiB ping-pong, 1 connection, 1 worker: p99 latency ≤ HAProxy's"),
        ]
    goals.append(("pingpong-64", "pp-1k-64c", 1, ours, peer, "throughput", ">=", 1.2,
                  "1 KiB ping-pong, 64 connections, 1 worker: msg/s ≥ 1.2 × HAProxy"))
    return goals


# Our paths, each against HAProxy in the same mode (auto moves bulk through splice). Busy polling
# on both sides (bench --paths ...,proxy-rw-busy,haproxy-busy) trades a spinning core for latency,
# so only the ping-pong goals are judged for it.
GOALS = []
for ours, peer in [("proxy-rw", "haproxy"), ("proxy-splice", "haproxy-splice"), ("proxy-auto", "haproxy-splice")]:
    GOALS += bulk_goals(ours, peer) + pingpong_goals(ours, peer)
GOALS += pingpong_goals("proxy-rw-busy", "haproxy-busy")


def _value(run, metric, unit):
    m = run.get("metrics") or {}
    if metric == "throughput":
        return m.get(unit)
    if metric == "cpu":
        return (m.get("cpu_s_per_gb") or {}).get("total")
    if metric == "machine_cpu":
        return m.get("machine_cpu_s_per_gb")
    if metric == "slowdown":
        return m.get("victim_p50_slowdown")
    return (m.get("latency_us") or {}).get("p99")


def _by_rep(runs, workload, workers, path):
    # direct has no proxy: any worker count of the same repetition will do
    return {r["rep"]: r for r in runs
            if r["workload"] == workload and r["path"] == path and r["status"] == "ok"
            and (path == "direct" or r["workers"] == workers)}


def paired_ratios(runs, wl, workers, ours, peer, metric, unit):
    """ours ÷ peer for every repetition in which both ran and the metric was measured."""
    if ours is None or peer is None:
        return []
    mine = _by_rep(runs, wl, workers, ours)
    if peer == ITSELF:
        return [v for v in (_value(mine[rep], metric, unit) for rep in sorted(mine)) if v is not None]
    theirs = _by_rep(runs, wl, workers, peer)
    ratios = []
    for rep in sorted(set(mine) & set(theirs)):
        a, b = _value(mine[rep], metric, unit), _value(theirs[rep], metric, unit)
        if a is not None and b:
            ratios.append(a / b)
    return ratios


def failed_runs(runs, wl, workers, path):
    """How many runs of `path` in this workload and worker count failed."""
    return sum(1 for r in runs if r["workload"] == wl and r["path"] == path and r["status"] == "failed"
               and r["workers"] == workers)


def judge(res, ratios, failed=0):
    """Fills in median [min-max] of the paired ratios and met (None: not measured; False as well when
    `failed` runs of ours did not finish)."""
    res.update(paired_ratios=ratios, failed_runs=failed)
    if ratios:
        med = statistics.median(ratios)
        res.update(median=med, min=min(ratios), max=max(ratios),
                   met=med >= res["target"] if res["op"] == ">=" else med <= res["target"])
    else:
        res.update(median=None, met=None)
    if failed:
        res["met"] = False
    return res


def cell_text(r):
    """A goal's cell: median [min-max] and the verdict, the failed runs named; None when not measured."""
    failed = r.get("failed_runs") or 0
    note = f" ({failed} run{'s' if failed != 1 else ''} of {r['ours']} failed)" if failed else ""
    if r["median"] is None:
        return f"**missed**{note}" if failed else None
    verdict = "**met**" if r["met"] else "**missed**"
    return f"{r['median']:.2f}× [{r['min']:.2f}–{r['max']:.2f}] {verdict}{note}"


def evaluate(runs, unit_of, goal_list=None):
    """One result per goal: paired ratios, their median and whether the target is met."""
    out = []
    ran = {r["path"] for r in runs}
    for gid, wl, workers, ours, peer, metric, op, target, text in (GOALS if goal_list is None else goal_list):
        if ours not in ran:
            continue  # a path this run did not select (--paths): no column for it
        res = {"goal": gid, "workload": wl, "workers": workers, "ours": ours, "peer": peer,
               "metric": metric, "op": op, "target": target, "text": text}
        out.append(judge(res, paired_ratios(runs, wl, workers, ours, peer, metric, unit_of(wl)),
                         failed_runs(runs, wl, workers, ours)))
    return out


# Fair turns: the victim of the mixed workload beside 4 bulk streams on its one worker, against its
# own figures alone (same run) and against HAProxy with nbthread 1 under the same load.
MIXED_WORKLOAD = "mixed-4s"


def mixed_goals():
    out = []
    for ours in ("proxy-rw", "proxy-splice", "proxy-auto", "proxy-uring", "proxy-sockmap"):
        peer = P.get(ours).peer
        out += [
            ("mixed-victim-p50", MIXED_WORKLOAD, 1, ours, ITSELF, "slowdown", "<=", 3.0,
             "victim (1 KiB at 500 msg/s) beside 4 bulk streams: p50 ≤ 3 × its own p50 alone"),
            ("mixed-victim-p99", MIXED_WORKLOAD, 1, ours, peer, "p99", "<=", 0.5,
             "victim beside 4 bulk streams: p99 ≤ 0.5 × HAProxy's (nbthread 1, same load)"),
            ("mixed-streams", MIXED_WORKLOAD, 1, ours, peer, "throughput", ">=", 1.5,
             "the 4 bulk streams beside the victim: throughput ≥ 1.5 × HAProxy's"),
        ]
    return out


# The tables' titles: what each checks, then the issue that set its targets (small print).
TITLE_HAPROXY = ("Against HAProxy in the same mode: bulk throughput, CPU per byte, ping-pong rate and p99", 9)
TITLE_FAIR = ("Every path at its defaults and at its best size: throughput, proxy and whole-machine CPU per GB", 17)
TITLE_URING = ("io_uring (--mode uring) against HAProxy and our epoll read/write: ping-pong, Redis, bulk", 14)
TITLE_MIXED = ("Fair turns: a 1 KiB victim at 500 msg/s beside 4 bulk streams on one worker", 22)
TITLE_SOCKMAP = ("Kernel relay (--mode sockmap) against our read/write and splice: ping-pong, bulk, whole-machine CPU", 21)


def heading(title):
    """A goal table's heading: what it checks, and the issue in small print."""
    text, issue = title if isinstance(title, tuple) else (title, None)
    return [f"## {text}", ""] + ([f"<sub>Goals of issue {issue}.</sub>", ""] if issue else [])


def markdown(results, title=TITLE_HAPROXY):
    """One row per goal and workload, one column per proxy path of ours."""
    ours = []
    rows = {}
    for r in results:
        if r["ours"] not in ours:
            ours.append(r["ours"])
        rows.setdefault((r["text"], r["workload"]), {})[r["ours"]] = r
    L = heading(title) + [
         "Each cell pairs our path with its peer (the goal says which: HAProxy in the same mode — rw with "
         "`haproxy`, splice and auto with `haproxy-splice`, rw-busy with `haproxy-busy` — or direct) run in the same repetition, and shows "
         "the median of the per-repetition ratios ours ÷ peer [min–max]; a goal against *its own* figures "
         "(the victim's p50 beside the streams ÷ alone) takes that ratio from each run. A goal the run did not include is "
         "marked as not measured, never as met; one whose runs of ours failed is missed.", "",
         "| goal | workload | " + " | ".join(ours) + " |",
         "|---|---|" + "---|" * len(ours)]
    for (text, wl), by_path in rows.items():
        cells = []
        for p in ours:
            r = by_path.get(p)
            if r is None:
                cells.append("")
            else:
                cells.append(cell_text(r) or "not measured")
        L.append(f"| {text} | {wl} | " + " | ".join(cells) + " |")
    measured = [r for r in results if r["met"] is not None]
    L += ["", f"{sum(r['met'] for r in measured)} of {len(measured)} measured goal checks met; "
          f"{len(results) - len(measured)} not measured in this run.", ""]
    return L


# --------------------------------------------------------------------------------------------
# Issue 17: every data path at its best setting, and the whole machine's CPU.
#
# Each goal is judged twice: for the defaults (the paths as a user starts them) and for the best
# settings (each path at the swept size best in the goal's metric: highest median throughput,
# fewest proxy or machine CPU-s/GB), so that no side is judged at a size it would not choose.

def bulk17(ours, peer):
    return [
        ("bulk17-throughput", "throughput", ">=", 1.2, f"iperf3 -P1, 1 worker: {ours} throughput ≥ 1.2 × {peer}"),
        ("bulk17-proxy-cpu", "cpu", "<=", 0.8, f"iperf3 -P1, 1 worker: {ours} proxy CPU-s/GB ≤ 0.8 × {peer}'s"),
        ("bulk17-machine-cpu", "machine_cpu", "<=", 1.0,
         f"iperf3 -P1, 1 worker: {ours} whole-machine CPU-s/GB ≤ {peer}'s"),
    ]


def fixed_modes():
    """Our paths that move bytes one way, the ones auto chooses between: rw and splice."""
    return list(P.FIXED_MODES)


# --------------------------------------------------------------------------------------------
# Issue 14: --mode uring against HAProxy and against our own epoll read/write, 1 worker.

def uring_goals(bests):
    U = "proxy-uring"
    rw_fast = best_path(bests, "iperf3-P1", 1, "proxy-rw", "throughput") or "proxy-rw"
    rw_lean = best_path(bests, "iperf3-P1", 1, "proxy-rw", "cpu") or "proxy-rw"
    rw_machine = best_path(bests, "iperf3-P1", 1, "proxy-rw", "machine_cpu") or "proxy-rw"
    return [
        ("uring-pp64-haproxy", "pp-1k-64c", 1, U, "haproxy", "throughput", ">=", 1.3,
         "1 KiB ping-pong, 64 connections: msg/s ≥ 1.3 × HAProxy"),
        ("uring-pp64-rw", "pp-1k-64c", 1, U, "proxy-rw", "throughput", ">=", 1.15,
         "1 KiB ping-pong, 64 connections: msg/s ≥ 1.15 × our epoll read/write"),
        ("uring-redis-set", "redis-set", 1, U, "haproxy", "throughput", ">=", 1.2,
         "redis-benchmark SET, 50 connections: requests/s ≥ 1.2 × HAProxy"),
        ("uring-redis-get", "redis-get", 1, U, "haproxy", "throughput", ">=", 1.2,
         "redis-benchmark GET, 50 connections: requests/s ≥ 1.2 × HAProxy"),
        ("uring-pp1-rw", "pp-1k-1c", 1, U, "proxy-rw", "throughput", ">=", 1.0,
         "1 KiB ping-pong, 1 connection: msg/s ≥ our read/write"),
        ("uring-pp1-p99", "pp-1k-1c", 1, U, "haproxy", "p99", "<=", 1.0,
         "1 KiB ping-pong, 1 connection: p99 ≤ HAProxy's"),
        ("uring-bulk", "iperf3-P1", 1, U, rw_fast, "throughput", ">=", 0.95,
         f"iperf3 -P1: throughput ≥ 0.95 × our read/write at its best size ({rw_fast})"),
        ("uring-bulk-cpu", "iperf3-P1", 1, U, rw_lean, "cpu", "<=", 1.0,
         f"iperf3 -P1: proxy CPU-s/GB ≤ our read/write's at its best size ({rw_lean})"),
        ("uring-bulk-machine-cpu", "iperf3-P1", 1, U, rw_machine, "machine_cpu", "<=", 1.0,
         f"iperf3 -P1: whole-machine CPU-s/GB ≤ our read/write's at its best size ({rw_machine})"),
    ]


# Issues 15 and 21: --mode sockmap, the kernel relaying, against our read/write and our splice, 1
# worker. Its work runs in softirq and kernel workers, not in the proxy's threads: the
# whole-machine CPU-s/GB is the figure that answers for it. Bulk is judged against splice at its
# best size, as an upload (iperf3) and as a two-way echo (stream-64k-1c).

def sockmap_goals(bests):
    S = "proxy-sockmap"
    splice_fast = best_path(bests, "iperf3-P1", 1, "proxy-splice", "throughput") or "proxy-splice"
    splice_machine = best_path(bests, "iperf3-P1", 1, "proxy-splice", "machine_cpu") or "proxy-splice"
    echo_fast = best_path(bests, "stream-64k-1c", 1, "proxy-splice", "throughput") or "proxy-splice"
    return [
        ("sockmap-pp1-rw", "pp-1k-1c", 1, S, "proxy-rw", "throughput", ">=", 1.1,
         "1 KiB ping-pong, 1 connection: msg/s ≥ 1.1 × our read/write"),
        ("sockmap-pp64-rw", "pp-1k-64c", 1, S, "proxy-rw", "throughput", ">=", 1.1,
         "1 KiB ping-pong, 64 connections: msg/s ≥ 1.1 × our read/write"),
        ("sockmap-bulk", "iperf3-P1", 1, S, splice_fast, "throughput", ">=", 0.9,
         f"iperf3 -P1: throughput ≥ 0.9 × our splice at its best size ({splice_fast})"),
        ("sockmap-bulk-echo", "stream-64k-1c", 1, S, echo_fast, "throughput", ">=", 0.9,
         f"bulk echo, 1 connection: throughput ≥ 0.9 × our splice at its best size ({echo_fast})"),
        ("sockmap-bulk-machine-cpu", "iperf3-P1", 1, S, splice_machine, "machine_cpu", "<=", 1.0,
         f"iperf3 -P1: whole-machine CPU-s/GB ≤ our splice's at its best size ({splice_machine})"),
    ]


def evaluate_fair(runs, aggs, bests, cfg):
    ran = {r["path"] for r in runs}
    idx = {(a["workload"], a["path"], a["workers"]): a for a in aggs}
    workers = 1
    out = []

    def add(gid, setting, wl, ours, peer, metric, op, target, text, note=None):
        res = {"goal": gid, "setting": setting, "workload": wl, "workers": workers, "ours": ours, "peer": peer,
               "metric": metric, "op": op, "target": target, "text": text, "note": note}
        unit = _unit(wl)
        out.append(judge(res, paired_ratios(runs, wl, workers, ours, peer, metric, unit),
                         failed_runs(runs, wl, workers, ours) if ours else 0))

    def best(wl, path, metric):
        return best_path(bests, wl, workers, path, metric)

    # 1. bulk against HAProxy in the same mode
    for ours in fixed_modes():
        peer = P.get(ours).peer
        if ours not in ran or not peer:
            continue
        for gid, metric, op, target, text in bulk17(ours, peer):
            add(gid, "defaults", "iperf3-P1", ours, peer, metric, op, target, text)
            add(gid, "best", "iperf3-P1", best("iperf3-P1", ours, metric), best("iperf3-P1", peer, metric),
                metric, op, target, text)
    # 2. each mode's default within 5% of its best swept setting
    for ours in fixed_modes():
        for wl in cfg.get("size_sweep_workloads") or []:
            if ours not in ran:
                continue
            add("default-vs-best-throughput", "defaults", wl, ours, best(wl, ours, "throughput"), "throughput",
                ">=", 0.95, f"{ours} default throughput ≥ 0.95 × its best swept setting")
            add("default-vs-best-cpu", "defaults", wl, ours, best(wl, ours, "cpu"), "cpu", "<=", 1.05,
                f"{ours} default proxy CPU-s/GB ≤ 1.05 × its best swept setting's")
    # 3. auto at least 0.95 x the better fixed mode, on every workload
    if "proxy-auto" in ran:
        for wl in cfg.get("workloads") or []:
            fixed = [(metric_median(idx.get((wl, p, workers)), "throughput"), p) for p in fixed_modes()]
            fixed = [f for f in fixed if f[0] is not None]
            better = max(fixed)[1] if fixed else None
            add("auto-vs-better-fixed", "defaults", wl, "proxy-auto", better, "throughput", ">=", 0.95,
                "proxy-auto throughput ≥ 0.95 × the better fixed mode")
            if wl in (cfg.get("size_sweep_workloads") or []):
                fb = [(metric_median(idx.get((wl, b, workers)), "throughput"), b)
                      for b in (best(wl, p, "throughput") for p in fixed_modes()) if b]
                add("auto-vs-better-fixed", "best", wl, "proxy-auto", max(fb)[1] if fb else None, "throughput",
                    ">=", 0.95, "proxy-auto throughput ≥ 0.95 × the better fixed mode")
    return out


def _unit(wl):
    from . import workloads as W
    return W.unit(wl) if wl in W.WORKLOADS else "gbit_per_s"


QUESTIONS = [
    "**proxy CPU-s/GB** (the proxy process's own user + system CPU per GB) answers *what do the proxy's "
    "threads cost?* — the figure that matters when the proxy shares a host with other work.",
    "**machine CPU-s/GB** (every busy CPU second of the whole machine from /proc/stat: client, backend, "
    "proxy, kernel softirq, per GB) answers *what does the relay cost the box?* — on loopback the kernel's "
    "TCP work is charged partly to whichever process sends, so a path can save its own CPU by moving work "
    "onto its neighbours; this column shows whether the machine as a whole saved anything.",
]


def markdown_fair(results):
    """The defaults-and-best-settings table (issue 17): one row per goal, path pair and workload."""
    if not results:
        return []
    rows = {}
    for r in results:
        rows.setdefault((r["text"], r["workload"]), {})[r["setting"]] = r

    def cell(r):
        if r is None:
            return ""
        text = cell_text(r)
        if text is None:
            if not (r["ours"] and r["peer"]):
                return "not measured (no size sweep of both paths in this run)"
            return "not measured"
        pair = f" ({r['ours']} vs {r['peer']})" if r["setting"] == "best" or r["goal"].startswith("default-vs") \
            or r["goal"].startswith("auto") else ""
        return f"{text}{pair}"

    L = heading(TITLE_FAIR) + [
         "Median of the per-repetition paired ratios ours ÷ peer [min–max]. *Best settings*: each path at the "
         "swept size ceiling best in that row's metric (rw `--buffer-size`, splice `--pipe-size`, HAProxy "
         "`tune.bufsize` / `tune.pipesize`); the pair compared is named in the cell. A goal whose runs are "
         "not in this run is marked as not measured, never as met.", ""]
    L += [f"* {q}" for q in QUESTIONS]
    L += ["", "| goal | workload | defaults | best settings |", "|---|---|---|---|"]
    for (text, wl), by in rows.items():
        L.append(f"| {text} | {wl} | {cell(by.get('defaults'))} | {cell(by.get('best'))} |")
    L.append("| memory: ≤ 4 KiB of user-space memory per idle connection at 10,000 connections, every mode | – | "
             "not measured here (the C++ scale test, tests/e2e_scale.cc) | |")
    measured = [r for r in results if r["met"] is not None]
    L += ["", f"{sum(r['met'] for r in measured)} of {len(measured)} measured goal checks met; "
          f"{len(results) - len(measured)} not measured in this run.", ""]
    return L
