"""The gnuplot PNGs of a run: throughput, proxy CPU-s/GB, latency, and the worker sweep."""

import math
import os
import shutil
import subprocess

from . import paths as P
from . import workloads as W
from .util import cmd_out, log


def gp_str(s):
    return '"' + s.replace('"', "'") + '"'


def plot_all(out, cfg, aggs, pdir=None):
    """The PNGs into out; their data and gnuplot scripts into pdir (default out/plots)."""
    if not shutil.which("gnuplot"):
        log("gnuplot not found: no plots")
        return []
    pdir = pdir or os.path.join(out, "plots")
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
                            f"0x{P.color(p)[1:]}\n")
            g += [f"set title {gp_str(w)}", f"set ylabel {gp_str(W.label(w))}",
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
                            f"{q(s and s['median'])} 0x{P.color(p)[1:]}\n")
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
                    plots_.append(f"{gp_str(dat)} using ($1+{dx:.3f}):2:3:4 with yerrorlines lc rgb '{P.color(p)}' "
                                  f"lw 2 pt 7 title {gp_str(p)}")
                if what == "throughput":
                    d = [a for a in aggs if a["workload"] == w and a["path"] == "direct" and a["throughput"]]
                    if d:
                        plots_.append(f"{d[0]['throughput']['median']!r} with lines dt 2 lc rgb '#888888' "
                                      f"title 'direct'")
                ylabel = W.label(w) if what == "throughput" else "CPU-s/GB"
                g += [f"set title {gp_str(w)}", f"set ylabel {gp_str(ylabel)}", "set xlabel 'workers'",
                      "set yrange [0:*]", f"set xrange [{wset[0] - 0.3}:{wset[-1] + 0.3}]", "set xtics 1",
                      "plot " + ", ".join(plots_)]
        if run_gp("workers.png", g):
            made.append(("workers.png", "Throughput and CPU vs workers"))

    # 5. the size sweep: each metric against the size ceiling, the default as a dashed line
    mw_sized = [a for a in aggs if "@" in a["path"] and a["workers"] == mw]
    zw = [w for w in cfg["workloads"] if any(a["workload"] == w for a in mw_sized)]
    if zw:
        g = header("sizes.png", 3, len(zw), "Size sweep: throughput, proxy CPU-s/GB, machine CPU-s/GB vs size "
                   "ceiling (median, bars min–max; dashed: the path's default)", h_per=320,
                   w_per=max(720, 1000 // len(zw)))
        g += ["set key outside right top font 'sans,8'", "set logscale x 2"]
        bases = [p for p in dict.fromkeys(P.base_of(a["path"]) for a in mw_sized)]
        for what, ylabel in (("throughput", None), ("cpu", "proxy CPU-s/GB"), ("machine_cpu", "machine CPU-s/GB")):
            for w in zw:
                sizes = sorted({P.get(a["path"]).size for a in mw_sized if a["workload"] == w})
                plots_ = []
                for p in bases:
                    dat = os.path.join(pdir, f"sizes-{what}-{w}-{p}.dat")
                    with open(dat, "w") as f:
                        for n in sizes:
                            st = metric_stat(idx.get((w, P.sized(p, n), mw)), what)
                            f.write(f"{n // 1024} {q(st and st['median'])} {q(st and st['min'])} {q(st and st['max'])}\n")
                    plots_.append(f"{gp_str(dat)} using 1:2:3:4 with yerrorlines lc rgb '{P.color(p)}' lw 2 pt 7 "
                                  f"title {gp_str(p)}")
                    d = metric_stat(idx.get((w, p, mw)), what)
                    if d:
                        plots_.append(f"{d['median']!r} with lines dt 2 lc rgb '{P.color(p)}' notitle")
                g += [f"set title {gp_str(w)}", f"set ylabel {gp_str(ylabel or W.label(w))}",
                      "set xlabel 'size ceiling, KiB'", "set yrange [0:*]",
                      f"set xrange [{sizes[0] // 1024 / 1.5}:{sizes[-1] // 1024 * 1.5}]",
                      "set xtics (" + ", ".join(f"'{n // 1024}' {n // 1024}" for n in sizes) + ")",
                      "plot " + ", ".join(plots_)]
        if run_gp("sizes.png", g):
            made.append(("sizes.png", "Size sweep"))
    return made


def metric_stat(a, what):
    """median/min/max of one metric of an aggregate, or None."""
    if not a:
        return None
    return {"throughput": a.get("throughput"), "cpu": (a.get("cpu_s_per_gb") or {}).get("total"),
            "machine_cpu": a.get("machine_cpu_s_per_gb")}[what]

