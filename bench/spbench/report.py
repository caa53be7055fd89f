"""report.md: headline, goals, definitions, machine, one table per workload, the size and worker
sweeps, syscalls, plots, and every failed or suspicious run."""

import os
import re
import statistics

from . import goals
from . import mixed_report
from . import paths as P
from . import workloads as W
from .aggregate import primary_unit
from .util import fmt_size


def fnum(v, unit):
    if v is None:
        return "–"
    if unit == "msg_per_s":
        return f"{v:,.0f}"
    if unit == "gbit_per_s":
        return f"{v:.2f}"
    if unit == "us":
        return f"{v:.1f}" if v < 1000 else f"{v:,.0f}"
    if unit == "cpu":
        return f"{v:.3g}" if v >= 0.01 else f"{v:.2g}"
    if unit == "ratio":
        return f"{v:.2f}×"
    return f"{v:g}"


def frange(s, unit, with_range=True):
    if not s:
        return "–"
    if not with_range or s["n"] < 2:
        return fnum(s["median"], unit)
    return f"{fnum(s['median'], unit)} [{fnum(s['min'], unit)}–{fnum(s['max'], unit)}]"


UNIT_LABEL = {"msg_per_s": "msg/s", "gbit_per_s": "Gbit/s"}


def runs_cell(a):
    if a["ok"] == a["runs"]:
        return f"{a['ok']}/{a['runs']}"
    bits = []
    if a["failed"]:
        bits.append(f"**{a['failed']} FAILED**")
    if a["skipped"]:
        bits.append(f"{a['skipped']} skipped")
    return f"{a['ok']}/{a['runs']} ({', '.join(bits)})"


def haproxy_version(mach):
    m = re.search(r"version (\S+)", str(mach["versions"].get("haproxy") or ""))
    return m.group(1) if m else "?"


def cell_tp(a, w):
    if not a:
        return "–"
    if a["throughput"]:
        return fnum(a["throughput"]["median"], primary_unit(w))
    return "**FAILED**" if a["failed"] else "skipped"


def cell_cpu(a, key):
    s = (a or {}).get("machine_cpu_s_per_gb") if key == "machine" else ((a or {}).get("cpu_s_per_gb") or {}).get("total")
    return fnum(s["median"], "cpu") if s else "–"


def table_head(hdr):
    return ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]


def cpu_headers(workloads):
    return [h for w in workloads for h in (f"{w} proxy CPU-s/GB", f"{w} machine CPU-s/GB")]


CPU_COLS = ("iperf3-P1", "iperf3-P4", "pp-1k-1c", "pp-1k-64c")


def headline(cfg, aggs, bests, mw):
    """Throughput, and CPU-s/GB of the proxy beside the whole machine's, per path; under each swept
    path a row with its best swept setting per column."""
    idx = {(a["workload"], a["path"], a["workers"]): a for a in aggs}
    tp_cols = [w for w in W.HEADLINE if w in cfg["workloads"]]
    cpu_cols = [w for w in CPU_COLS if w in cfg["workloads"]]
    if not tp_cols and not cpu_cols:
        return []
    hdr = ["path"]
    for w in tp_cols:
        hdr.append(f"{w} {W.label(w)}")
        if primary_unit(w) == "msg_per_s":
            hdr.append(f"{w} p99 µs")
    hdr += cpu_headers(cpu_cols)
    L = ["## Headline", "",
         "Proxy CPU-s/GB: what the proxy's own threads cost. Machine CPU-s/GB: what the relay costs the whole "
         "box (client, backend, proxy and kernel), since on loopback the kernel's TCP work lands on whoever "
         "runs it (definitions below). For `proxy-sockmap` what the kernel relays costs the proxy's threads "
         "nothing (softirq and the psock workers do it), so the machine column is the one that answers for it; "
         "but in bulk the kernel relays only the start and the proxy's worker moves the rest behind the "
         "relay's holds (the line under the table says how much). Rows *↳ best swept*: the path's best size-sweep setting in each column "
         "(size in brackets).", ""] + table_head(hdr)
    by_base = {(b["workload"], b["path"]): b for b in bests if b["workers"] == mw}
    for p in cfg["paths"]:
        row = [p]
        for w in tp_cols:
            a = idx.get((w, p, mw))
            row.append(cell_tp(a, w))
            if primary_unit(w) == "msg_per_s":
                row.append(fnum(a["latency_us"]["p99"]["median"], "us") if a and a["latency_us"]["p99"] else "–")
        for w in cpu_cols:
            a = idx.get((w, p, mw))
            row += [cell_cpu(a, "proxy"), cell_cpu(a, "machine")]
        L.append("| " + " | ".join(row) + " |")
        if not any((w, p) in by_base for w in tp_cols + cpu_cols):
            continue
        row = [f"↳ {p} best swept"]

        def best_cell(w, metric, fmt_unit):
            b = by_base.get((w, p))
            bm = b and b["best"].get(metric)
            if not bm:
                return "–"
            return f"{fnum(bm['median'], fmt_unit)} ({bm['path'].partition('@')[2]})"
        for w in tp_cols:
            row.append(best_cell(w, "throughput", primary_unit(w)))
            if primary_unit(w) == "msg_per_s":
                row.append("")
        for w in cpu_cols:
            row += [best_cell(w, "cpu", "cpu"), best_cell(w, "machine_cpu", "cpu")]
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    L += kernel_share_lines(cfg, idx, tp_cols + [w for w in cpu_cols if w not in tp_cols], mw)
    return L


def kernel_share_lines(cfg, idx, workloads, mw):
    """Per sockmap path: the share of each workload's bytes the kernel relayed (median [min-max])."""
    L = []
    for p in cfg["paths"]:
        cells = []
        for w in workloads:
            a = idx.get((w, p, mw))
            s = a and a.get("kernel_relayed_pct")
            if s:
                cells.append(f"{w} {s['median']:.0f} % [{s['min']:.0f}–{s['max']:.0f}]")
        if cells:
            L += [f"`{p}`: the kernel relayed " + ", ".join(cells) + " of the bytes (median [min–max] over the "
                  "repetitions); the worker moved the rest on with read/write behind the relay's holds "
                  "(`sockmap_moved_bytes`, docs/sockmap.md).", ""]
    return L


def real_clients(cfg, aggs, mw):
    wls = [w for w in W.REAL_CLIENTS if w in cfg["workloads"]]
    if not wls:
        return []
    idx = {(a["workload"], a["path"], a["workers"]): a for a in aggs}
    per_gb = [w for w in wls if W.WORKLOADS[w]["kind"] in ("curl", "wrk")]
    per_req = [w for w in wls if W.WORKLOADS[w]["kind"] in ("redis", "wrk")]
    hdr = ["path"] + [f"{w} {W.label(w)}" for w in wls] + cpu_headers(per_gb)
    hdr += [h for w in per_req for h in (f"{w} proxy CPU-µs/req", f"{w} machine CPU-µs/req")]
    L = ["## Real clients", "",
         "Debian's redis-benchmark against redis-server, wrk against nginx, curl fetching a big file from nginx "
         "(every fetch's sha256 checked: a mismatch fails the run), through each path on loopback. Medians; "
         "the per-workload tables below have the ranges. redis-benchmark reports no byte counts, so its "
         "workloads show CPU per request (µs) instead of per GB.", ""] + table_head(hdr)

    def us(s):
        return f"{s['median']:.1f}" if s else "–"
    for p in cfg["paths"]:
        row = [p] + [cell_tp(idx.get((w, p, mw)), w) for w in wls]
        for w in per_gb:
            a = idx.get((w, p, mw))
            row += [cell_cpu(a, "proxy"), cell_cpu(a, "machine")]
        for w in per_req:
            a = idx.get((w, p, mw)) or {}
            row += [us(a.get("cpu_us_per_request")), us(a.get("machine_cpu_us_per_request"))]
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    return L


def size_sweep(cfg, aggs, bests, mw, defaults=None):
    """Per swept workload: each path at its default and at every swept size."""
    bests = [b for b in bests if b["workers"] == mw]
    if not bests:
        return []
    idx = {(a["workload"], a["path"], a["workers"]): a for a in aggs}
    sizes = sorted({P.get(v).size for b in bests for v in b["variants"]})
    L = ["## Size sweep", "",
         "Each fixed-mode path at its default and with its size ceiling set to each swept value (our rw "
         "`--buffer-size`, our splice `--pipe-size`, HAProxy `tune.bufsize` / `tune.pipesize`), interleaved with "
         "the other paths. Cells: throughput median [min–max] · proxy CPU-s/GB · machine CPU-s/GB. **Bold**: "
         "the best swept setting in throughput. The defaults: our `--buffer-size` "
         f"{(defaults or {}).get('buffer_size') or '?'}, `--pipe-size` {(defaults or {}).get('pipe_size') or '?'} "
         "(ceilings: buffers and pipes start small and grow, in builds that have the adaptive sizes of issue 17); "
         "HAProxy `tune.bufsize` 16K, pipes of the system default size (64K). The best of several noisy "
         "medians is biased upward: where a swept size equals the default (e.g. `@1M` with a 1M default), "
         "the two differ only by noise, which shows how much of a default-vs-best gap is real.", ""]
    for w in [w for w in cfg["workloads"] if any(b["workload"] == w for b in bests)]:
        L += [f"### {w} ({W.label(w)})", "",
              "| path | default | " + " | ".join(fmt_size(s) for s in sizes) + " | best throughput | best proxy CPU | best machine CPU |",
              "|---|---|" + "---|" * (len(sizes) + 3)]

        def cell(a, bold=False):
            if not a:
                return "–"
            if not a["ok"]:
                return "**FAILED**"
            t = frange(a["throughput"], primary_unit(w))
            t = f"**{t}**" if bold else t
            return f"{t} · {cell_cpu(a, 'proxy')} · {cell_cpu(a, 'machine')}"
        for b in [b for b in bests if b["workload"] == w]:
            top = (b["best"].get("throughput") or {}).get("path")
            row = [b["path"], cell(idx.get((w, b["path"], mw)))]
            row += [cell(idx.get((w, P.sized(b["path"], s), mw)), P.sized(b["path"], s) == top) for s in sizes]
            for metric, u in (("throughput", primary_unit(w)), ("cpu", "cpu"), ("machine_cpu", "cpu")):
                bm = b["best"].get(metric)
                if not bm:
                    row.append("–")
                    continue
                d = bm.get("default_median")
                vs = f", default {d / bm['median']:.2f}×" if d and bm["median"] else ""
                row.append(f"{bm['path'].partition('@')[2]} ({fnum(bm['median'], u)}{vs})")
            L.append("| " + " | ".join(row) + " |")
        L.append("")
    return L


def write_report(out, meta, runs, aggs, plots, interrupted, goal_results, bests=(), fair=(), mode_goals=()):
    cfg, mach = meta["config"], meta["machine"]
    defaults = mach.get("proxy_defaults") or {}
    L = []
    L.append(f"# spliceproxy benchmark — {mach['hostname']} — {meta['started_at'][:10]}")
    L.append("")
    if interrupted:
        L.append("> **Interrupted**: this report covers only the runs completed before the stop.")
        L.append("")
    L.append(f"Command: `{' '.join(meta['command'])}`  ")
    L.append(f"Machine: **{mach.get('cpu_model') or 'CPU model unknown'}**, {mach.get('cores')} cores, kernel "
             f"{mach.get('kernel')} — absolute figures belong to this machine; compare ratios.  ")
    L.append(f"Started {meta['started_at']}, finished {meta.get('finished_at', '?')}. "
             f"{cfg['reps']} repetition(s), {cfg['duration']} s per run after {cfg['warmup']} s warm-up, "
             f"variants interleaved per repetition; main matrix with {cfg['main_workers']} proxy worker(s) / "
             f"HAProxy threads. Runs: {len(runs)} ({sum(r['status'] == 'ok' for r in runs)} ok, "
             f"{sum(r['status'] == 'failed' for r in runs)} failed, "
             f"{sum(r['status'] == 'skipped' for r in runs)} skipped).")
    L.append("")
    L.append("Cells are **median [min–max]** over the repetitions. Only ratios within this one run "
             "mean anything: the machine is shared and noisy, and client, proxy and server share its cores.")
    L.append("")

    idx = {(a["workload"], a["path"], a["workers"]): a for a in aggs}
    mw = cfg["main_workers"]
    L += headline(cfg, aggs, bests, mw)
    L += real_clients(cfg, aggs, mw)
    L += size_sweep(cfg, aggs, bests, mw, defaults)
    L += mixed_report.markdown(runs, mw)
    if fair:
        L += goals.markdown_fair(fair)
    for title, results in mode_goals:
        if results:
            L += goals.markdown(results, title)
    if goal_results:
        L += goals.markdown(goal_results)
    L.append("## Definitions")
    L.append("")
    L.append("* **Paths**: `direct` = client → backend; `proxy-rw` / `proxy-splice` / `proxy-auto` / `proxy-uring` / `proxy-sockmap` = our `proxy --mode rw|splice|auto|uring|sockmap "
             f"-w {mw}`; `haproxy` = HAProxy {haproxy_version(mach)} in TCP mode, `nbthread` = "
             "workers, no splice; `haproxy-splice` = the same with `option splice-request` + `option splice-response`. "
             f"Opt-in: `proxy-rw-busy` = `proxy --mode rw --busy-poll {cfg.get('busy_poll') or 50}` and `haproxy-busy` = "
             "`haproxy` with `busy-polling` in `global`; each spins a core while it waits, so they are compared "
             "with each other. "
             "HAProxy keeps its defaults otherwise (tune.bufsize 16 KiB, pipes of the system default size); "
             f"our proxy uses its defaults (--buffer-size {cfg.get('buffer_size') or defaults.get('buffer_size') or '64K'}, "
             f"--pipe-size {cfg.get('pipe_size') or defaults.get('pipe_size') or '1M'}, as its -h says). "
             "`NAME@SIZE` is a path with its size ceiling set: our rw `--buffer-size`, our splice `--pipe-size`, "
             "HAProxy `tune.bufsize` (haproxy) or `tune.pipesize` (haproxy-splice). "
             "The config used is in `haproxy-splice.cfg`.")
    L.append("* **Throughput**: ping-pong workloads and sockperf in round trips per second (`msg/s`); "
             "stream workloads in Gbit/s of payload that came back to the client (one way, so each byte "
             "crossed the proxy twice); iperf3 in Gbit/s received by `iperf3 -s` (`end.sum_received`).")
    L.append("* **Latency**: round-trip time in µs as the client reports it (tcp_ping_client `latency_us`; "
             "sockperf with `--full-rtt`). iperf3 and stream workloads report none.")
    L.append("* **CPU-s/GB**: the proxy process's user + system CPU seconds (all threads), divided by the "
             "GB (10⁹ bytes) of application payload moved **one way** in the same window: for echo workloads "
             "the bytes the client received back (the proxy forwarded each of them twice, so it moved 2× that "
             "in total, ≈ its stats `totals.bytes`), for iperf3 the bytes the client sent. Ours: delta of "
             "the cumulative `process.cpu.user_s/sys_s` from the stats socket when the build has it, else "
             "`/proc/PID/stat` utime/stime; HAProxy: `/proc/PID/stat`. Window: tcp_ping_client runs from the "
             "end of its `--warmup` to its exit (its summary excludes the warm-up); iperf3 and sockperf from start "
             "to exit, with their bytes counted over the whole run too (iperf3's `-O` intervals included; "
             "sockperf's total messages) — their reported throughput and latency still exclude the warm-up. "
             "`machine CPU-s/GB` is the same with all CPU time of the machine (client, server, proxy, softirq) "
             "from /proc/stat: on loopback the kernel's TCP work lands partly on whichever process sends.")
    L.append("* **CPU-µs/req** (request workloads: redis-benchmark, wrk): the same CPU seconds divided by the requests "
             "completed in the window (redis-benchmark: its `-n`; wrk: its count), in µs. redis-benchmark reports no "
             "byte counts, so this is its only CPU figure.")
    L.append("* **Ratios**: medians divided. `×direct`: throughput relative to no proxy. `×HAProxy`: ours "
             "relative to HAProxy in the same mode (rw vs haproxy, splice vs haproxy-splice). `splice/rw`: a "
             "splice path relative to the rw path of the same proxy (throughput; and CPU-s/GB).")
    L.append("* **other busy %**: share of all cores busy during the measured window with anything but "
             "client, backend and proxy, irq/softirq time left out (/proc/stat minus the three processes' "
             "CPU): an interference gauge. High values mean the run shared the machine with other work.")
    L.append("")

    L.append("## Machine")
    L.append("")
    L.append("| fact | value |")
    L.append("|---|---|")
    for k in ("hostname", "kernel", "cpu_model", "cores", "memory", "virtualization", "pipe_max_size",
              "cpufreq_governor", "loadavg_at_start", "background_busy_pct_at_start",
              "background_busy_pct_at_end", "git_commit"):
        L.append(f"| {k} | {mach.get(k)} |")
    for b, f in (mach.get("binaries") or {}).items():
        L.append(f"| {b} binary | " + (f"sha256 {f['sha256']}…, built {f['mtime']}" if f else "missing") + " |")
    L.append(f"| binaries built from | {mach.get('binaries_built_from', 'work tree')} |")
    if mach.get("git_dirty_files") and mach.get("binaries_built_from", "work tree") == "work tree":
        L.append(f"| modified tracked files at run time (the binaries may include such work) | "
                 f"{', '.join(mach['git_dirty_files'])} |")
    for k, v in mach["sysctl"].items():
        L.append(f"| {k} | {v} |")
    for k, v in mach["versions"].items():
        L.append(f"| {k} version | {str(v).splitlines()[0] if v else v} |")
    srcs = sorted({r.get("cpu_source") for r in runs if r.get("cpu_source") and P.known(r["path"]) and P.is_ours(r["path"])})
    L.append(f"| CPU source for our proxy | {', '.join(srcs) or '–'} |")
    if meta.get("client_note"):
        L.append(f"| tcp_ping_client | {meta['client_note']} |")
    L.append("")

    L.append("## Results per workload")
    L.append("")
    for w in cfg["workloads"]:
        rows = [a for a in aggs if a["workload"] == w and a["workers"] == mw]
        if not rows:
            continue
        u = primary_unit(w)
        L.append(f"### {w}")
        L.append("")
        L.append(W.WORKLOADS[w]["desc"] + ".")
        L.append("")
        has_lat = any(a["latency_us"]["p50"] for a in rows)
        hdr = ["path", f"throughput {W.label(w)}", "×direct", "×HAProxy", "splice/rw"]
        if has_lat:
            hdr += ["p50 µs", "p99 µs", "p99.9 µs", "max µs"]
        hdr += ["proxy CPU-s/GB", "user", "sys", "CPU splice/rw", "CPU ×HAProxy", "machine CPU-s/GB",
                "other busy %", "runs ok"]
        L.append("| " + " | ".join(hdr) + " |")
        L.append("|" + "---|" * len(hdr))
        for a in rows:
            r = a["ratios"]
            row = [a["path"], frange(a["throughput"], u) if a["ok"] else "**FAILED**" if a["failed"] else "skipped",
                   fnum(r.get("throughput_vs_direct"), "ratio"),
                   fnum(r.get("throughput_vs_haproxy_same_mode"), "ratio"),
                   fnum(r.get("throughput_splice_vs_rw"), "ratio")]
            if has_lat:
                row += [frange(a["latency_us"][k], "us", k != "max") for k in ("p50", "p99", "p999")]
                row += [fnum(a["latency_us"]["max"]["max"], "us") if a["latency_us"]["max"] else "–"]
            c = a["cpu_s_per_gb"]
            row += [frange(c["total"], "cpu"), frange(c["user"], "cpu", False), frange(c["sys"], "cpu", False),
                    fnum(r.get("cpu_per_gb_splice_vs_rw"), "ratio"),
                    fnum(r.get("cpu_per_gb_vs_haproxy_same_mode"), "ratio"),
                    frange(a["machine_cpu_s_per_gb"], "cpu", False),
                    f"{a['other_busy_pct']['median']:.0f}" if a["other_busy_pct"] else "–", runs_cell(a)]
            L.append("| " + " | ".join(row) + " |")
        L.append("")

    sweep = [a for a in aggs if a["workload"] in cfg["sweep_workloads"] and a["path"] != "direct"]
    wset = sorted({a["workers"] for a in sweep})
    if len(wset) > 1:
        L.append("## Worker sweep")
        L.append("")
        L.append("Proxy workers (ours) / `nbthread` (HAProxy) varied on a subset of workloads. Cells: "
                 "throughput median [min–max] · proxy CPU-s/GB median. On a machine with few cores the "
                 "client and server compete with the proxy for them: see README for larger machines.")
        L.append("")
        for w in cfg["sweep_workloads"]:
            rows = [a for a in sweep if a["workload"] == w]
            if not rows:
                continue
            u = primary_unit(w)
            L.append(f"### {w} ({W.label(w)})")
            L.append("")
            L.append("| path | " + " | ".join(f"w={n}" for n in wset) + " |")
            L.append("|---|" + "---|" * len(wset))
            for p in cfg["paths"]:
                if p == "direct":
                    continue
                cells = []
                for n in wset:
                    a = idx.get((w, p, n))
                    if not a:
                        cells.append("–")
                    elif not a["ok"]:
                        cells.append("**FAILED**")
                    else:
                        c = a["cpu_s_per_gb"]["total"]
                        cells.append(f"{frange(a['throughput'], u)} · {fnum(c['median'], 'cpu') if c else '–'}")
                L.append(f"| {p} | " + " | ".join(cells) + " |")
            L.append("")

    calls = [a for a in aggs if P.is_ours(a["path"]) and a["workers"] == mw
             and (a.get("proxy_calls_per_mb") or {}).get("io_calls")]
    if calls:
        L.append("## Our proxy's system calls")
        L.append("")
        L.append("From the stats socket's worker counters, per MB (10⁶ bytes) moved one way (median over reps). "
                 "splice moves a chunk with two calls (socket → pipe, pipe → socket), rw with a read and a write, "
                 "uring with its share of one `io_uring_enter` (which submits every queued receive and send and "
                 "waits); `eagain` counts calls that found nothing to do. For 1 KiB ping-pong, *per message* is "
                 "per MB × 0.001024 (one message each way).")
        L.append("")
        L.append("| workload | path | I/O calls/MB | per message | splice | read | write | io_uring_enter | eagain |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for a in calls:
            c = a["proxy_calls_per_mb"]
            io = c.get("io_calls")
            per_msg = f"{io['median'] * 0.001024:.2f}" if io and a["workload"].startswith("pp-1k") else "–"
            L.append(f"| {a['workload']} | {a['path']} | " + (f"{io['median']:,.1f}" if io else "–") + f" | {per_msg} | " +
                     " | ".join(f"{c[k]['median']:,.1f}" if c.get(k) else "–"
                                for k in ("splice_calls", "read_calls", "write_calls", "uring_enters", "eagain")) + " |")
        L.append("")

    if plots:
        L.append("## Plots")
        L.append("")
        for name, title in plots:
            L.append(f"### {title}")
            L.append("")
            L.append(f"![{title}]({name})")
            L.append("")

    L.append("## Failed, skipped and suspicious runs")
    L.append("")
    bad = [r for r in runs if r["status"] != "ok"]
    odd = []
    direct = {a["workload"]: a["throughput"]["median"] for a in aggs
              if a["path"] == "direct" and a["throughput"] and a["workers"] == mw}
    for r in runs:
        if r["status"] != "ok":
            continue
        m = r["metrics"]
        tp, d = m.get(primary_unit(r["workload"])), direct.get(r["workload"])
        if tp is not None and d and tp < 0.05 * d:
            odd.append((r, f"throughput {fnum(tp, primary_unit(r['workload']))} is {100 * tp / d:.1f} % of direct's "
                           "(a stall?)"))
        mx = (m.get("latency_us") or {}).get("max")
        if mx is not None and mx >= 100000:
            odd.append((r, f"max latency {mx / 1000:.0f} ms (stall?)"))
        if m.get("errors_nonzero"):
            odd.append((r, f"client errors {m['errors_nonzero']}"))
        # sockmap_declined / sockmap_fallbacks: the sockmap path relayed sessions with splice (past
        # --sockmap-tcp-memory, or refused by the kernel): the run measured splice.
        watch = ["connect_failed", "connect_timeout", "rw_fallbacks", "pipe_resize_failures", "idle_timeouts",
                 "sockmap_declined", "sockmap_fallbacks"]
        if W.WORKLOADS[r["workload"]]["kind"] == "ping":
            watch.append("resets")  # iperf3 and sockperf end their connections with RSTs: normal there
        bad_counters = {k: v for k, v in (m.get("proxy_counters") or {}).items() if v and k in watch}
        if bad_counters:
            odd.append((r, f"proxy counters {bad_counters}"))
        if m.get("proxy_stats_bytes") is not None and m.get("bytes_oneway"):
            ratio = m["proxy_stats_bytes"] / m["bytes_oneway"]
            exp = 2.0 if W.WORKLOADS[r["workload"]]["kind"] != "iperf3" else 1.0
            if r.get("cpu_window") == "after_warmup" and not (0.8 * exp <= ratio <= 1.25 * exp):
                odd.append((r, f"proxy stats bytes / client one-way bytes = {ratio:.2f} (expected ≈{exp:g})"))
    retx = {}
    for r in runs:
        if r["status"] == "ok" and r["metrics"].get("retransmits") is not None:
            retx.setdefault((r["workload"], r["path"]), []).append(r["metrics"]["retransmits"])
    if retx:
        cells = [f"{w} {p}: {statistics.median(v):g} [{min(v)}–{max(v)}]" for (w, p), v in sorted(
            retx.items(), key=lambda kv: (list(W.WORKLOADS).index(kv[0][0]), P.sort_key(kv[0][1])))]
        L.append("iperf3 sender-side TCP retransmits per run, median [min–max] (on loopback they come from "
                 "the machine's load and buffer pressure, the direct path has them too): " + "; ".join(cells) + ".")
        L.append("")
    if not bad and not odd:
        L.append("No failed, skipped or suspicious run.")
    for r in bad:
        L.append(f"* `{r['id']}` **{r['status']}**: {r.get('error')}")
    for r, why in odd:
        L.append(f"* `{r['id']}` ok but {why}")
    L.append("")
    L.append("Raw per-run JSON (client output, CPU samples, argv, proxy log tail when relevant) is in `raw.tar.xz` "
             "(`raw/`, with the plots' data in `plots/`); `summary.json` holds every run and the aggregates; "
             "`bench/run.sh --report-from DIR` rebuilds this report from them.")
    L.append("")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(L))

