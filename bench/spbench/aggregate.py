"""From runs to aggregates: median [min-max] per (workload, path, workers), ratios of medians,
and the best swept size setting per path."""

import math
import statistics

from . import paths as P
from . import workloads as W


def stat3(vals):
    vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


def primary_unit(wname):
    return W.unit(wname)


# The system calls that move bytes: splice, read and write for the pumps; io_uring_enter for uring
# (each submits a batch of receives and sends and waits).
IO_CALLS = ("splice_calls", "read_calls", "write_calls", "uring_enters")
CALL_KEYS = ("io_calls",) + IO_CALLS + ("eagain",)


def per_mb(m, key):
    """Our proxy's syscall counters per MB (10^6 bytes) moved one way, from the stats socket."""
    c = m.get("proxy_counters")
    mb = (m.get("bytes_oneway") or 0) / 1e6
    if not c or mb <= 0 or m.get("cpu", {}).get("window_s") is None:
        return None
    if key == "io_calls":
        v = sum(c.get(k, 0) for k in IO_CALLS)
    else:
        v = c.get(key)
    return None if v is None else v / mb


def kernel_relayed_pct(m):
    """--mode sockmap: the share of the bytes (both ways) the kernel relayed in the measured window;
    the worker moved the rest on behind the relay's holds (sockmap_moved_bytes, docs/sockmap.md)."""
    c = m.get("proxy_counters") or {}
    both = c.get("bytes_in", 0) + c.get("bytes_out", 0)
    if "sockmap_moved_bytes" not in c or both <= 0:
        return None
    if c.get("sockmap_declined", 0) + c.get("sockmap_fallbacks", 0) > 0:
        return None  # sessions relayed with splice count in the same bytes: no share to give
    return 100.0 * (1 - min(c["sockmap_moved_bytes"], both) / both)


def relays_in_kernel(path):
    return P.known(path) and P.get(path).mode == "sockmap"


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
             "cpu_us_per_request": stat3([m.get("cpu_us_per_request") for m in ms]),
             "machine_cpu_us_per_request": stat3([m.get("machine_cpu_us_per_request") for m in ms]),
             "other_busy_pct": stat3([m.get("other_busy_pct") for m in ms]),
             "kernel_relayed_pct": stat3([kernel_relayed_pct(m) for m in ms]) if relays_in_kernel(p) else None,
             "proxy_calls_per_mb": {k: stat3([per_mb(m, k) for m in ms]) for k in CALL_KEYS},
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
        path = P.get(p)
        h = idx.get((w, path.peer, n))
        if mine is not None and med(h):
            r["throughput_vs_haproxy_same_mode"] = mine / med(h)
        if med(a, "cpu") is not None and med(h, "cpu"):
            r["cpu_per_gb_vs_haproxy_same_mode"] = med(a, "cpu") / med(h, "cpu")
        rw = idx.get((w, path.rw_of, n))
        if mine is not None and med(rw):
            r["throughput_splice_vs_rw"] = mine / med(rw)
        if med(a, "cpu") is not None and med(rw, "cpu"):
            r["cpu_per_gb_splice_vs_rw"] = med(a, "cpu") / med(rw, "cpu")
        a["ratios"] = r
    worder = {w: i for i, w in enumerate(W.WORKLOADS)}
    aggs.sort(key=lambda a: (worder.get(a["workload"], len(worder)), a["workers"], P.sort_key(a["path"])))
    return aggs


# what "best" means per metric: the highest median throughput, the fewest CPU-s/GB
BEST_BY = {"throughput": max, "cpu": min, "machine_cpu": min}


def metric_median(a, metric):
    """The median of one metric of an aggregate (None when not measured)."""
    if a is None:
        return None
    s = {"throughput": a.get("throughput"), "cpu": (a.get("cpu_s_per_gb") or {}).get("total"),
         "machine_cpu": a.get("machine_cpu_s_per_gb")}[metric]
    return s["median"] if s else None


def best_settings(aggs):
    """For every (workload, workers, path) with size variants (path@SIZE) in the run: the variant
    best in each metric, beside the path's default. Only swept variants compete: the default is
    what is judged against them."""
    groups = {}
    for a in aggs:
        if "@" in a["path"]:
            groups.setdefault((a["workload"], a["workers"], P.base_of(a["path"])), []).append(a)
    idx = {(a["workload"], a["workers"], a["path"]): a for a in aggs}
    out = []
    for (w, n, base), variants in groups.items():
        res = {"workload": w, "workers": n, "path": base, "variants": [v["path"] for v in variants],
               "default": base if (w, n, base) in idx else None, "best": {}}
        for metric, pick in BEST_BY.items():
            cands = [(metric_median(v, metric), v["path"]) for v in variants if metric_median(v, metric) is not None]
            if cands:
                val, name = pick(cands, key=lambda c: c[0])
                res["best"][metric] = {"path": name, "median": val,
                                       "default_median": metric_median(idx.get((w, n, base)), metric)}
        out.append(res)
    worder = {w: i for i, w in enumerate(W.WORKLOADS)}
    out.sort(key=lambda b: (worder.get(b["workload"], len(worder)), b["workers"], P.sort_key(b["path"])))
    return out


def best_path(bests, workload, workers, path, metric):
    """The best variant of path in metric (a name, e.g. proxy-rw@1M), or None when not swept."""
    for b in bests:
        if (b["workload"], b["workers"], b["path"]) == (workload, workers, path) and metric in b["best"]:
            return b["best"][metric]["path"]
    return None


def path_checks(runs, paths):
    """Which paths moved bytes at least once (the --quick smoke test)."""
    moved = {p: 0 for p in paths}
    for r in runs:
        if r["status"] == "ok" and r["path"] in moved:
            m = r["metrics"]
            # request workloads without byte counts (redis-benchmark) count one per run that moved any
            moved[r["path"]] += m.get("bytes_oneway") or (1 if m.get("msg_per_s") else 0)
    return moved

