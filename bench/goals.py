"""The performance goals of issue 9, checked against one benchmark run.

Every goal compares two paths measured in the same repetition (the variants run interleaved, so
the two runs of a pair shared the machine's state): the ratio is taken per repetition and the
goal is judged on the median of those paired ratios. A goal whose workload or worker count the
run did not include is reported as "not measured", never as met; a path of ours that the run did
not select (--paths) gets no column at all.
"""

import statistics

# (id, workload, workers, ours, peer, metric, op, target, text)
#   metric: "throughput" (the workload's primary unit), "cpu" (proxy CPU-s/GB), "p99" (latency)
#   op: ">=" ours/peer must reach target; "<=" ours/peer must stay at or below it

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
    return (m.get("latency_us") or {}).get("p99")


def _by_rep(runs, workload, workers, path):
    # direct has no proxy: any worker count of the same repetition will do
    return {r["rep"]: r for r in runs
            if r["workload"] == workload and r["path"] == path and r["status"] == "ok"
            and (path == "direct" or r["workers"] == workers)}


def evaluate(runs, unit_of):
    """One result per goal: paired ratios, their median and whether the target is met."""
    out = []
    ran = {r["path"] for r in runs}
    for gid, wl, workers, ours, peer, metric, op, target, text in GOALS:
        if ours not in ran:
            continue  # a path this run did not select (--paths): no column for it
        mine, theirs = _by_rep(runs, wl, workers, ours), _by_rep(runs, wl, workers, peer)
        ratios = []
        for rep in sorted(set(mine) & set(theirs)):
            a, b = _value(mine[rep], metric, unit_of(wl)), _value(theirs[rep], metric, unit_of(wl))
            if a is not None and b:
                ratios.append(a / b)
        res = {"goal": gid, "workload": wl, "workers": workers, "ours": ours, "peer": peer,
               "metric": metric, "op": op, "target": target, "text": text, "paired_ratios": ratios}
        if ratios:
            med = statistics.median(ratios)
            res.update(median=med, min=min(ratios), max=max(ratios),
                       met=med >= target if op == ">=" else med <= target)
        else:
            res.update(median=None, met=None)
        out.append(res)
    return out


def markdown(results):
    """One row per goal and workload, one column per proxy path of ours."""
    ours = []
    rows = {}
    for r in results:
        if r["ours"] not in ours:
            ours.append(r["ours"])
        rows.setdefault((r["text"], r["workload"]), {})[r["ours"]] = r
    L = ["## Issue 9 goals", "",
         "Each cell pairs our path with its peer (the goal says which: HAProxy in the same mode — rw with "
         "`haproxy`, splice and auto with `haproxy-splice`, rw-busy with `haproxy-busy` — or direct) run in the same repetition, and shows "
         "the median of the per-repetition ratios ours ÷ peer [min–max]. A goal the run did not include is "
         "marked as not measured, never as met.", "",
         "| goal | workload | " + " | ".join(ours) + " |",
         "|---|---|" + "---|" * len(ours)]
    for (text, wl), by_path in rows.items():
        cells = []
        for p in ours:
            r = by_path.get(p)
            if r is None:
                cells.append("")
            elif r["median"] is None:
                cells.append("not measured")
            else:
                verdict = "**met**" if r["met"] else "**missed**"
                cells.append(f"{r['median']:.2f}× [{r['min']:.2f}–{r['max']:.2f}] {verdict}")
        L.append(f"| {text} | {wl} | " + " | ".join(cells) + " |")
    measured = [r for r in results if r["met"] is not None]
    L += ["", f"{sum(r['met'] for r in measured)} of {len(measured)} measured goal checks met; "
          f"{len(results) - len(measured)} not measured in this run.", ""]
    return L
