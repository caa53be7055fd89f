"""bench/tune's results: the per-setting aggregates, the recommendation rule (fastest; then, within
the noise, cheapest in CPU-s/GB; then fewest workers), the table, the evidence and the plot."""

import os
import re
import shutil
import statistics
import subprocess
import tempfile

from ..build import ensure_tools
from ..util import fmt_size, log


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def aggregate(settings, runs):
    by = {}
    for r in runs:
        if r.get("ok"):
            by.setdefault(tuple(r["key"]), []).append(r)
    aggs = []
    for s in settings:
        rs = by.get(s.key, [])
        if not rs:
            continue
        tps = [r["m"]["bytes_per_s"] for r in rs]
        cpg = [r["m"]["cpu_s_per_gb"] for r in rs]
        nw = s.workers
        aggs.append(dict(
            setting=s, n=len(rs),
            tp=med(tps), tp_min=min(tps), tp_max=max(tps),
            cpg=med(cpg), cpg_min=min(c for c in cpg if c is not None), cpg_max=max(c for c in cpg if c is not None),
            cpu_pct=med([r["m"]["cpu_pct"] for r in rs]),
            worker_cpu=[med([r["m"]["workers"][k]["cpu_pct"] for r in rs if len(r["m"]["workers"]) > k]) for k in range(nw)],
            worker_share=[med([100 * r["m"]["workers"][k]["bytes"] / r["m"]["bytes"] if r["m"]["bytes"] else 0
                               for r in rs if len(r["m"]["workers"]) > k]) for k in range(nw)],
            worker_conns=[med([r["m"]["workers"][k]["connections"] for r in rs if len(r["m"]["workers"]) > k]) for k in range(nw)],
            other=med([r["m"]["other_busy_pct"] for r in rs]),
            softirq=med([r["m"]["softirq_pct"] for r in rs]),
            pins_ok=all(all(p["ok"] for p in r["m"]["pins"]) for r in rs) if s.pinned else None))
    return aggs


def spread(a, lo, hi, mid):
    return (a[hi] - a[lo]) / a[mid] if a[mid] else 0.0


def recommend(aggs, floor):
    """Highest throughput; ties (within noise) -> fewest CPU-s/GB (within noise) -> fewest workers.
    Noise: the larger of `floor` and the median relative spread (max-min)/median of the settings
    that ran more than once."""
    if not aggs:
        return None
    multi = [a for a in aggs if a["n"] > 1]
    tp_noise = max(floor, med([spread(a, "tp_min", "tp_max", "tp") for a in multi]) or 0.0)
    cpg_noise = max(floor, med([spread(a, "cpg_min", "cpg_max", "cpg") for a in multi if a["cpg"]]) or 0.0)
    best_tp = max(a["tp"] for a in aggs)
    tied = [a for a in aggs if a["tp"] >= best_tp * (1 - tp_noise)]
    best_cpg = min(a["cpg"] for a in tied if a["cpg"] is not None)
    cheap = [a for a in tied if a["cpg"] is not None and a["cpg"] <= best_cpg * (1 + cpg_noise)]
    fewest = min(a["setting"].workers for a in cheap)
    final = [a for a in cheap if a["setting"].workers == fewest]
    # Still tied: the cheaper, then the faster (deterministic).
    pick = sorted(final, key=lambda a: (a["cpg"], -a["tp"]))[0]
    return dict(pick=pick, tp_noise=tp_noise, cpg_noise=cpg_noise, best_tp=best_tp, tied=tied,
                best_cpg=best_cpg, cheap=cheap, final=final)


def gbit(bps):
    return bps * 8 / 1e9


def fmt_list(xs, fmt="{:.0f}"):
    return "/".join(fmt.format(x) if x is not None else "-" for x in xs)


def table(aggs, balance_shown):
    head = ["setting", "runs", "Gbit/s median [min-max]", "CPU-s/GB", "proxy CPU %", "per worker CPU %",
            "bytes %", "conns", "pin", "softirq %", "other busy %"]
    rows = []
    for a in sorted(aggs, key=lambda a: -a["tp"]):
        s = a["setting"]
        rows.append([s.name(balance_shown), str(a["n"]),
                     f"{gbit(a['tp']):.2f} [{gbit(a['tp_min']):.2f}-{gbit(a['tp_max']):.2f}]",
                     f"{a['cpg']:.3f}" if a["cpg"] is not None else "-",
                     f"{a['cpu_pct']:.0f}", fmt_list(a["worker_cpu"]), fmt_list(a["worker_share"]),
                     fmt_list(a["worker_conns"]),
                     "-" if a["pins_ok"] is None else ("ok" if a["pins_ok"] else "WRONG"),
                     f"{a['softirq']:.0f}", f"{a['other']:.0f}"])
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


def explain(rec, aggs, balance_shown, args):
    if rec is None:
        return "no completed run: nothing to recommend"
    p = rec["pick"]
    s = p["setting"]
    L = []
    flags = " ".join(s.flags(args.cpus))
    L.append(f"RECOMMENDED: proxy {flags}")
    L.append(f"  ({s.name(balance_shown)}: {gbit(p['tp']):.2f} Gbit/s through the proxy, both directions, "
             f"{p['cpg']:.3f} CPU-s/GB, {p['n']} run(s))")
    L.append("evidence:")
    L.append(f"  noise: throughput {100 * rec['tp_noise']:.1f}%, CPU-s/GB {100 * rec['cpg_noise']:.1f}% "
             f"(median max-min spread over repeated settings, at least {100 * args.noise:.0f}%)")
    L.append(f"  1. best median throughput {gbit(rec['best_tp']):.2f} Gbit/s; within {100 * rec['tp_noise']:.1f}% of it: "
             f"{len(rec['tied'])} of {len(aggs)} settings: "
             + ", ".join(f"{a['setting'].name(balance_shown)} ({gbit(a['tp']):.2f})" for a in sorted(rec["tied"], key=lambda a: -a["tp"])))
    L.append(f"  2. fewest CPU-s/GB among those: {rec['best_cpg']:.3f}; within {100 * rec['cpg_noise']:.1f}%: "
             + ", ".join(f"{a['setting'].name(balance_shown)} ({a['cpg']:.3f})" for a in sorted(rec["cheap"], key=lambda a: a["cpg"])))
    L.append(f"  3. fewest workers among those: {p['setting'].workers}"
             + (f"; still tied: {', '.join(a['setting'].name(balance_shown) for a in rec['final'])} -> the cheapest"
                if len(rec["final"]) > 1 else ""))
    # How the dimensions compare, other things equal (medians, when both ran): (label, key
    # position, value, the value it is compared with).
    dims = [("splice vs rw", 0, "splice", "rw"), ("pinned vs unpinned", 2, True, False),
            ("reuseport vs acceptor", 3, True, False)]
    dims += [(f"size {fmt_size(n)} vs default", 5, n, None) for n in args.sizes if n is not None]
    for label, pos, a_name, b_name in dims:
        ratios_tp, ratios_cpg = [], []
        idx = {a["setting"].key: a for a in aggs}
        for a in aggs:
            if a["setting"].key[pos] != a_name:
                continue
            k = list(a["setting"].key)
            k[pos] = b_name
            if label == "reuseport vs acceptor":
                k[4] = "round-robin"
            b = idx.get(tuple(k))
            if b:
                ratios_tp.append(a["tp"] / b["tp"])
                if a["cpg"] and b["cpg"]:
                    ratios_cpg.append(a["cpg"] / b["cpg"])
        if ratios_tp:
            L.append(f"  {label}: throughput x{med(ratios_tp):.2f} (range {min(ratios_tp):.2f}-{max(ratios_tp):.2f}), "
                     f"CPU-s/GB x{med(ratios_cpg):.2f} over {len(ratios_tp)} matched pair(s)")
    other = med([a["other"] for a in aggs])
    if other is not None and other > 10:
        L.append(f"  note: work other than the proxy, client, server and softirq used a median {other:.0f}% of the "
                 "machine during the windows: "
                 "numbers are noisy; rerun with more --repeat on a quiet machine")
    if any(a["pins_ok"] is False for a in aggs):
        L.append("  WARNING: some pinned worker was not on its CPU (see 'pin' column / JSON)")
    return "\n".join(L)


def plot(path, aggs, args):
    if not shutil.which("gnuplot"):
        ensure_gnuplot()
    if not shutil.which("gnuplot"):
        log("tune: gnuplot not available; no plot")
        return False
    d = tempfile.mkdtemp(prefix="spx-tune-plot-")
    series = {}
    for a in aggs:
        series.setdefault(a["setting"].series(), []).append(a)
    datas = []
    for i, (name, rows) in enumerate(sorted(series.items())):
        f = os.path.join(d, f"s{i}.dat")
        with open(f, "w") as out:
            out.write("# workers tp tp_min tp_max cpg cpg_min cpg_max\n")
            for a in sorted(rows, key=lambda a: a["setting"].workers):
                out.write(f"{a['setting'].workers} {gbit(a['tp'])} {gbit(a['tp_min'])} {gbit(a['tp_max'])} "
                          f"{a['cpg'] or 0} {a['cpg_min'] or 0} {a['cpg_max'] or 0}\n")
        datas.append((name, f))

    def q(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    title = f"spliceproxy tune ({args.topology}, {args.load} -c {args.connections}, {os.cpu_count()} CPUs)"
    # Colour: mode; dashes: accept path; points: pinned (filled) or not (open).
    styles = []
    for i, (name, _f) in enumerate(datas):
        color = "#2ca02c" if name.startswith("splice") else "#1f77b4"
        if "least-connections" in name:
            color = "#d62728" if name.startswith("splice") else "#ff7f0e"
        dt = 2 if "reuseport" in name else 1
        pt = 7 if " pinned" in name else 6
        styles.append(f"set style line {i + 1} lc rgb '{color}' lw 2 pt {pt} ps 1.3 dt {dt}")
    gp = [
        "set terminal pngcairo size 1400,640 font ',10'" if gnuplot_has("pngcairo") else "set terminal png size 1400,640",
        f"set output {q(path)}",
        "set multiplot layout 1,2 title " + q(title),
        "set grid", "set key below font ',9'", "set xlabel 'workers'", "set xtics 1",
        f"set xrange [0.5:{max(args.workers) + 0.5}]", "set yrange [0:*]", *styles,
        "set ylabel 'Gbit/s through the proxy (both directions), median, min-max'",
        "plot " + ", ".join(f"{q(f)} using 1:2:3:4 with yerrorlines ls {i + 1} title {q(n)}" for i, (n, f) in enumerate(datas)),
        "set ylabel 'proxy CPU-seconds per GB (lower is better)'",
        "plot " + ", ".join(f"{q(f)} using 1:5:6:7 with yerrorlines ls {i + 1} title {q(n)}" for i, (n, f) in enumerate(datas)),
        "unset multiplot",
    ]
    r = subprocess.run(["gnuplot"], input="\n".join(gp) + "\n", capture_output=True, text=True, timeout=60)
    shutil.rmtree(d, ignore_errors=True)
    if r.returncode != 0:
        log(f"tune: gnuplot failed: {r.stderr.strip()[-500:]}")
        return False
    return True


def gnuplot_has(term):
    r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True, timeout=20)
    return re.search(rf"^\s*{term}\s", r.stdout + r.stderr, re.M) is not None


def ensure_gnuplot():
    ensure_tools([("gnuplot", "gnuplot-nox")])


