"""The demo's arithmetic and wording, apart from the processes so that pytest can check it: one
run's figures from the client's summary and the CPU counters, medians with min-max, the verdict
per workload ("within noise" when the ranges overlap), and the text table."""

GB = 1e9  # CPU-s/GB uses decimal gigabytes, as bench/ does
MIN_RUNS = 3  # below this per mode a min-max range says nothing: no verdict

# What each workload is judged on: (key, label, unit, higher is better, how to print a value)
METRICS = {
    "bulk": [("mb_per_s", "throughput", "MB/s", True, "{:.0f}"),
             ("proxy_cpu_s_per_gb", "proxy CPU", "s/GB", False, "{:.3f}"),
             ("machine_cpu_s_per_gb", "machine CPU", "s/GB", False, "{:.3f}")],
    "pingpong": [("round_trips_per_s", "round trips/s", "", True, "{:.0f}"),
                 ("p50_us", "p50 latency", "us", False, "{:.1f}"),
                 ("proxy_cpu_s_per_gb", "proxy CPU", "s/GB", False, "{:.2f}"),
                 ("machine_cpu_s_per_gb", "machine CPU", "s/GB", False, "{:.2f}")],
}


def median(values):
    v = sorted(values)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def summary(values):
    """Median, min and max of the values that were measured (None left out)."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": median(v), "min": min(v), "max": max(v), "n": len(v), "values": list(values)}


def run_figures(client_summary, proxy_cpu_s, machine_cpu_s):
    """One run: the client's --json summary and the CPU seconds spent while it ran."""
    s = client_summary
    tp = s.get("throughput") or {}
    received = s.get("bytes_received") or 0
    gbytes = received / GB  # one way: the bytes that came back, each crossed the proxy twice
    lat = s.get("latency_us") or {}
    return {
        "mb_per_s": (tp.get("received_bytes_per_s") or 0) / 1e6,
        "round_trips_per_s": tp.get("messages_per_s"),
        "p50_us": lat.get("p50"),
        "bytes_one_way": received,
        "proxy_cpu_s": proxy_cpu_s,
        "machine_cpu_s": machine_cpu_s,
        "proxy_cpu_s_per_gb": proxy_cpu_s / gbytes if proxy_cpu_s is not None and gbytes > 0 else None,
        "machine_cpu_s_per_gb": machine_cpu_s / gbytes if machine_cpu_s is not None and gbytes > 0 else None,
    }


def overlaps(a, b):
    return a["min"] <= b["max"] and b["min"] <= a["max"]


def rank(by_mode, higher_is_better):
    """by_mode: mode -> summary. The best mode by median, and the modes whose min-max range
    overlaps the best one's (then the difference is within the noise of these runs)."""
    modes = [m for m, s in by_mode.items() if s is not None]
    if not modes:
        return None
    fewest = min(by_mode[m]["n"] for m in modes)
    ordered = sorted(modes, key=lambda m: by_mode[m]["median"], reverse=higher_is_better)
    best = ordered[0]
    tied = [m for m in ordered[1:] if overlaps(by_mode[best], by_mode[m])]
    nxt = ordered[1] if len(ordered) > 1 else None
    ratio = None
    if nxt is not None and by_mode[nxt]["median"]:
        ratio = by_mode[best]["median"] / by_mode[nxt]["median"]
    return {"best": best, "order": ordered, "tied": tied, "next": nxt, "ratio_to_next": ratio,
            "within_noise": bool(tied), "fewest_runs": fewest}


def judgement(label, r, higher_is_better):
    """One clause of a verdict line: 'throughput: splice best, 1.21x auto' or '... within noise'."""
    if r is None:
        return f"{label}: not measured"
    if r["next"] is None:
        return f"{label}: {r['best']} only"
    if r["fewest_runs"] < MIN_RUNS:
        return f"{label}: not judged (a mode has {r['fewest_runs']} runs, fewer than {MIN_RUNS})"
    if r["within_noise"]:
        group = [r["best"]] + r["tied"]
        rest = [m for m in r["order"] if m not in group]
        return (f"{label}: within noise ({', '.join(group)} overlap"
                + (f"; {', '.join(rest)} behind" if rest else "") + ")")
    word = "best" if higher_is_better else "lowest"
    how = f"{r['ratio_to_next']:.2f}x {r['next']}" if r["ratio_to_next"] else f"ahead of {r['next']}"
    return f"{label}: {r['best']} {word} ({how}, ranges apart)"


def workload_result(workload, runs_by_mode):
    """runs_by_mode: mode -> [run_figures]. Summaries per metric and mode, the rankings, the verdict."""
    out = {"modes": {}, "rankings": {}}
    for mode, runs in runs_by_mode.items():
        out["modes"][mode] = {key: summary([r.get(key) for r in runs]) for key, *_ in METRICS[workload]}
        out["modes"][mode]["runs"] = len(runs)
    clauses = []
    for key, label, _unit, higher, _fmt in METRICS[workload]:
        r = rank({m: out["modes"][m][key] for m in runs_by_mode}, higher)
        out["rankings"][key] = r
        clauses.append(judgement(label, r, higher))
    out["verdict"] = "; ".join(clauses)
    return out


def fmt_range(s, fmt):
    if s is None:
        return "-"
    return f"{fmt.format(s['median'])} ({fmt.format(s['min'])}-{fmt.format(s['max'])})"


def effective_labels(runs):
    """Row labels: the mode, and the mode in effect when the proxy said it ran another one."""
    labels = {}
    for r in runs:
        eff = {x.get("mode_effective") or x["mode"] for x in runs if x["mode"] == r["mode"]} - {r["mode"]}
        labels[r["mode"]] = r["mode"] + (f" (in effect {', '.join(sorted(eff))})" if eff else "")
    return labels


def table(workload, title, result, labels=None):
    """The text table of one workload: a row per mode, median (min-max) per metric, the verdict."""
    cols = METRICS[workload]
    labels = labels or {}
    head = ["mode"] + [f"{label} {unit}".strip() for _k, label, unit, _h, _f in cols]
    rows = [[labels.get(mode, mode)] + [fmt_range(res[key], fmt) for key, _l, _u, _h, fmt in cols]
            for mode, res in result["modes"].items()]
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    out = [title, line(head)] + [line(r) for r in rows]
    out.append(f"verdict: {result['verdict']}")
    return "\n".join(out)


def sent_to_splice(before, after):
    """--mode sockmap: whether a run's session was relayed with splice instead of the kernel relay
    (past --sockmap-tcp-memory, or refused by the kernel), from the workers' counters around it."""
    if not before or not after:
        return False
    return any(after.get(k, 0) > before.get(k, 0) for k in ("sockmap_declined", "sockmap_fallbacks"))


def kernel_relayed_pct(before, after):
    """--mode sockmap: the share (%) of a run's bytes, both ways, that the kernel relayed, from the
    workers' counters summed before and after it; the worker moved the rest on behind the relay's
    holds (sockmap_moved_bytes). None without the counters or bytes."""
    if not before or not after or "sockmap_moved_bytes" not in after:
        return None
    delta = lambda k: after.get(k, 0) - before.get(k, 0)
    both = delta("bytes_in") + delta("bytes_out")
    if both <= 0 or delta("sockmap_declined") + delta("sockmap_fallbacks") > 0:
        return None  # a session relayed with splice counts in the same bytes
    return 100.0 * (1 - min(max(delta("sockmap_moved_bytes"), 0), both) / both)


def kernel_share_line(runs, workload_names):
    """One line on who moved the bytes of the sockmap runs, per workload (medians), or None."""
    parts = []
    for workload, name in workload_names.items():
        shares = [r["kernel_relayed_pct"] for r in runs if r.get("mode_effective") == "sockmap"
                  and r["workload"] == workload and r.get("kernel_relayed_pct") is not None]
        if shares:
            parts.append(f"{median(shares):.0f} % of the {name} bytes")
    if not parts:
        return None
    return ("sockmap: the kernel relayed " + " and ".join(parts) + " (medians); the worker moved the rest on "
            "with read/write behind the relay's holds (docs/sockmap.md)")


def parse_count(text, lo, hi, suffixes=False):
    """A whole number in lo..hi, with K/M suffixes (x1024) when allowed; None when it is not one."""
    t = text.strip()
    mult = 1
    if suffixes and t[-1:] in ("K", "k", "M", "m"):
        mult = 1024 if t[-1] in "Kk" else 1024 * 1024
        t = t[:-1]
    if not t.isdigit():
        return None
    v = int(t) * mult
    return v if lo <= v <= hi else None
