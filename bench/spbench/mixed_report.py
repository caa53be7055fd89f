"""The report's section on the mixed workload: per number of bulk streams, each path's victim alone
and beside the streams (medians over the repetitions, each run holding both), and the streams'
throughput, so that fairness and the bulk it costs are read side by side."""

import statistics

from . import paths as P
from . import workloads as W


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _us(v):
    if v is None:
        return "–"
    return f"{v / 1000:.2f} ms" if v >= 10_000 else f"{v:.0f} µs"


def rows_for(runs, workload, workers):
    """One row per path (table order): medians of the victim's p50/p99 alone and beside the streams,
    of the p50 slowdown, and of the streams' Gbit/s; with the count of ok and failed runs."""
    out = []
    for path in sorted({r["path"] for r in runs if r["workload"] == workload}, key=P.sort_key):
        rs = [r for r in runs if r["workload"] == workload and r["path"] == path
              and (path == "direct" or r["workers"] == workers)]
        ok = [r["metrics"] for r in rs if r["status"] == "ok"]
        alone = [m.get("victim_alone_latency_us") or {} for m in ok]
        loaded = [m.get("latency_us") or {} for m in ok]
        out.append({
            "path": path, "ok": len(ok), "failed": sum(r["status"] == "failed" for r in rs),
            "alone_p50": _median(a.get("p50") for a in alone), "alone_p99": _median(a.get("p99") for a in alone),
            "loaded_p50": _median(x.get("p50") for x in loaded), "loaded_p99": _median(x.get("p99") for x in loaded),
            "slowdown": _median(m.get("victim_p50_slowdown") for m in ok),
            "gbit_per_s": _median(m.get("gbit_per_s") for m in ok),
        })
    return out


def markdown(runs, workers):
    mixed = [w for w in W.MIXED if any(r["workload"] == w for r in runs)]
    if not mixed:
        return []
    L = ["## Mixed load: a 1 KiB victim beside bulk streams on the same worker", "",
         f"Each run: the victim (`tcp_ping_client -c 1 -l 1024 --rate 500`, latency from each message's "
         f"intended send time, so a stall counts for every message it delays) alone, then beside N bulk "
         f"streams (`--mode stream -c N`) through the same proxy with {workers} worker(s) / HAProxy "
         f"`nbthread {workers}`. Medians over the repetitions; *p50 ×* is the median of each run's p50 "
         "beside the streams ÷ its p50 alone.", ""]
    for w in mixed:
        rows = rows_for(runs, w, workers)
        n = W.WORKLOADS[w]["streams"]
        L += [f"### {n} bulk stream{'s' if n > 1 else ''} (`{w}`)", "",
              "| path | victim alone p50 | alone p99 | beside p50 | beside p99 | p50 × | streams Gbit/s | runs |",
              "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            slow = "–" if r["slowdown"] is None else f"{r['slowdown']:.2f}×"
            gbit = "–" if r["gbit_per_s"] is None else f"{r['gbit_per_s']:.2f}"
            runs_text = f"{r['ok']} ok" + (f", **{r['failed']} failed**" if r["failed"] else "")
            L.append(f"| {r['path']} | {_us(r['alone_p50'])} | {_us(r['alone_p99'])} | {_us(r['loaded_p50'])} | "
                     f"{_us(r['loaded_p99'])} | {slow} | {gbit} | {runs_text} |")
        L.append("")
    return L
