"""The soak verdict, from a run's log directory: the stats samples (samples.ndjson), the clients'
summaries and the churn rounds, judged against the tolerances in meta.json. docs/soak.md lists the
checks. Each check: {name, ok: True | False | None (not enough data to judge), detail, numbers}.
Numbers in the details print as jq printed them (this replaced scripts/soak.d/verdict.jq)."""

import json
import math
import os

from .client_json import summary_of

# ---- numbers and text as jq had them ---------------------------------------------------------


def jround(x):
    """jq's round: half away from zero, an integer."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def round1(x):
    return jround(x * 10) / 10


def round3(x):
    return jround(x * 1000) / 1000


def mb(x):
    return round1(x / 1e6)


def mib(x):
    return round1(x / 1048576)


def txt(v):
    """A value inside a text, as jq's string interpolation writes it."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e17 else repr(v)
    if isinstance(v, (int, str)):
        return str(v)
    return json.dumps(v, separators=(",", ":"))


def median(v):
    v = sorted(v)
    n = len(v)
    if n == 0:
        return None
    return v[(n - 1) // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def get(d, *path):
    """d.a.b... with None for anything missing (jq's .a.b on null)."""
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)
    return d


def total(items, *path):
    """Sum of a field over items; missing ones count 0."""
    return sum(get(i, *path) or 0 for i in items)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def sessionless_fds(s):
    return s["process"]["open_fds"] - 2 * s["totals"]["connections_active"]


def lo(v):
    return min(v) if v else None


def hi(v):
    return max(v) if v else None


# ---- the checks --------------------------------------------------------------------------------


def check_throughput(run):
    rates = [s["totals"]["bytes_per_s"] for s in run]
    cur = longest = zeros = 0
    for r in rates:
        if r > 0:
            cur = 0
        else:
            cur, zeros = cur + 1, zeros + 1
            longest = max(longest, cur)
    if len(run) >= 2:
        dt = run[-1]["soak"]["t"] - run[0]["soak"]["t"]
        avg = (run[-1]["totals"]["bytes"] - run[0]["totals"]["bytes"]) / dt if dt > 0 else 0
    elif len(run) == 1:
        avg = run[0]["totals"].get("bytes_per_s_avg") or 0
    else:
        avg = 0
    detail = "no samples" if not run else (
        f"{len(run)} samples: {zeros} with 0 B/s (longest run {longest}, limit 1);"
        f" MB/s min {txt(mb(min(rates)))}, median {txt(mb(median(rates)))}, max {txt(mb(max(rates)))},"
        f" mean {txt(mb(avg))}")
    return {"name": "throughput never stalled", "ok": len(run) >= 1 and longest <= 1 and (hi(rates) or 0) > 0,
            "detail": detail, "zero_intervals": zeros, "longest_stall_intervals": longest,
            "bytes_per_s": {"min": lo(rates), "median": median(rates), "max": hi(rates), "mean": jround(avg)}}, avg


def _client_ok(s, rc):
    errors = get(s, "errors", "total")
    return s is not None and s.get("ok") is True and (1 if errors is None else errors) == 0 and rc == 0


def _client_text(s, rc, what):
    if s is None:
        return f"{what}: no summary (exit {txt(rc)})"
    t = f"{what}: {txt(s.get('messages'))} msgs, {txt(get(s, 'errors', 'total'))} errors"
    if s.get("latency_us") is not None:
        t += f", p50 {txt(round1(s['latency_us']['p50']))} us, p99 {txt(round1(s['latency_us']['p99']))} us"
    if rc != 0:
        t += f" (exit {txt(rc)})"
    if s.get("first_error") not in (None, False):
        t += f" - first: {txt(s['first_error'])}"
    return t


def _pick(s, keys):
    return None if s is None else {k: s.get(k) for k in keys}


def check_clients(meta, client, stream, churn):
    rc = meta["exit_codes"]
    bad = [c for c in churn if c.get("ok") is not True]
    oks = [_client_ok(client, rc.get("client")),
           meta["stream_connections"] == 0 or _client_ok(stream, rc.get("stream")),
           meta["churn_connections"] == 0 or (len(churn) > 0 and not bad)]
    parts = [_client_text(client, rc.get("client"), "ping-pong")]
    if meta["stream_connections"] > 0:
        parts.append(_client_text(stream, rc.get("stream"), "stream"))
    if meta["churn_connections"] > 0:
        t = f"churn: {len(churn)} rounds x {meta['churn_connections']} conns, {len(bad)} failed"
        if bad:
            first = bad[0].get("first_error")
            t += f" - first: {txt(first if first not in (None, False) else 'exit ' + txt(bad[0].get('rc')))}"
        parts.append(t)
    return {"name": "no mismatches or resets (clients)", "ok": all(oks), "detail": "; ".join(parts),
            "pingpong": _pick(client, ("messages", "errors", "latency_us", "throughput")),
            "stream": _pick(stream, ("messages", "errors", "throughput")),
            "churn": {"rounds": len(churn), "failed": len(bad), "messages": total(churn, "messages")}}


COUNTERS = ("resets", "connect_failed", "connect_timeout", "idle_timeouts", "rw_fallbacks")


def proxy_counters(snap):
    """The error counters of a snapshot, summed over the workers, and the listeners' refusals."""
    w = (snap or {}).get("workers") or []
    return dict({k: total(w, "counters", k) for k in COUNTERS}, refused=total((snap or {}).get("listeners") or [], "refused"))


def check_counters(last, baseline=None):
    # baseline (client-only): the counters when the proxy first forwarded our ping; what it counted
    # before (clients closed while its remote's name did not resolve yet) is not this run's.
    ctr = proxy_counters(last)
    if baseline:
        ctr = {k: v - (baseline.get(k) or 0) for k, v in ctr.items()}
    ok = last is not None and all(ctr[k] == 0 for k in ("resets", "connect_failed", "connect_timeout",
                                                        "idle_timeouts", "refused"))
    detail = "no samples" if last is None else (
        f"resets {ctr['resets']}, connect_failed {ctr['connect_failed']}, connect_timeout {ctr['connect_timeout']},"
        f" idle_timeouts {ctr['idle_timeouts']}, refused {ctr['refused']}; rw_fallbacks {ctr['rw_fallbacks']} (not an error)")
    if baseline and last is not None:
        detail += "; counted from the first ping that came through"
    return {"name": "no resets or failed connects (proxy)", "ok": ok, "detail": detail,
            "counters": ctr, "baseline": baseline}


def check_fds(meta, steady, tol):
    # Counted on the quiet samples: taken between two rounds of the churn client, once its sessions
    # had closed, so only the long-lived connections were open and open_fds is exact. A sample where
    # the held churn client's sessions were still open 3 s after it exited fails the check too.
    if meta.get("shared"):
        fds, sfds = [s["process"]["open_fds"] for s in steady], [sessionless_fds(s) for s in steady]
        return {"name": "open fds flat after warm-up", "ok": None, "quiet_samples": 0, "stuck_samples": 0,
                "open_fds": {"min": lo(fds), "max": hi(fds)}, "sessionless_fds": {"min": lo(sfds), "max": hi(sfds)},
                "detail": f"shared proxy (--shared): other clients' sessions open and close its fds: not judged"
                          f" (open_fds {txt(lo(fds))}..{txt(hi(fds))})"}, []
    quiet = [s for s in steady if s["soak"].get("quiet") is True]
    stuck = sum(1 for s in steady if s["soak"].get("held") is True and s["soak"].get("quiet") is not True)
    sfds = [sessionless_fds(s) for s in quiet]
    fds = [s["process"]["open_fds"] for s in quiet]
    limit = tol["fd_max_minus_min"]
    if len(quiet) < 2:
        ok = False if stuck > 0 else None
        detail = f"only {len(quiet)} quiet samples after the {txt(meta['warmup_s'])} s warm-up: not judged"
    else:
        ok = max(fds) - min(fds) <= limit and stuck == 0
        detail = (f"open_fds min {min(fds)}, max {max(fds)} (limit max-min <= {txt(limit)})"
                  f" over {len(quiet)} quiet samples after {txt(meta['warmup_s'])} s;"
                  f" without the sessions' sockets {min(sfds)}..{max(sfds)}")
    if stuck > 0:
        detail += f"; {stuck} samples with sessions still open 3 s after the churn client exited"
    if len(steady) > len(quiet) + stuck:
        detail += f"; {len(steady) - len(quiet) - stuck} samples not quiet (not used)"
    return {"name": "open fds flat after warm-up", "ok": ok, "detail": detail,
            "open_fds": {"min": lo(fds), "max": hi(fds)}, "sessionless_fds": {"min": lo(sfds), "max": hi(sfds)},
            "quiet_samples": len(quiet), "stuck_samples": stuck}, sfds


def check_rss(meta, steady, tol):
    rss = [s["process"]["rss_bytes"] for s in steady]
    n = len(rss)
    q = n // 4
    first = median(rss[:q]) if q >= 1 else None
    last = median(rss[n - q:]) if q >= 1 else None
    limit = max(first * tol["rss_growth_pct"] / 100, tol["rss_growth_mib"] * 1048576) if q >= 1 else None
    if q < 1:
        ok, detail = None, f"only {n} samples after the {txt(meta['warmup_s'])} s warm-up: not judged"
    else:
        growth = last - first
        ok = growth <= limit
        detail = (f"median of the first quarter {txt(mib(first))} MiB, last quarter {txt(mib(last))} MiB:"
                  f" {'+' if last >= first else ''}{txt(round1(growth / 1024))} KiB"
                  f" ({txt(round1(growth / first * 100))}%), limit +{txt(mib(limit))} MiB"
                  f" ({txt(tol['rss_growth_pct'])}% or {txt(tol['rss_growth_mib'])} MiB);"
                  f" min {txt(mib(min(rss)))}, max {txt(mib(max(rss)))} MiB")
    return {"name": "RSS flat after warm-up", "ok": ok, "detail": detail,
            "rss_bytes": {"first_quarter_median": first, "last_quarter_median": last, "limit": limit,
                          "min": lo(rss), "max": hi(rss), "samples_per_quarter": q}}


def check_workers(meta, w):
    ok = (len(w) >= 1 and (meta["client_only"] or len(w) == meta["workers"])
          and all(x["connections_total"] > 0 and x["bytes"] > 0 for x in w))
    if not w:
        detail = "no workers in the stats"
    else:
        detail = "; ".join(f"w{txt(x['id'])}: {txt(x['connections_total'])} conns, {txt(round3(x['bytes'] / 1e9))} GB"
                           for x in w)
        if not meta["client_only"] and len(w) != meta["workers"]:
            detail += f" (expected {txt(meta['workers'])} workers)"
    return {"name": "every worker got work", "ok": ok, "detail": detail,
            "workers": [{k: x.get(k) for k in ("id", "connections_total", "bytes")} for x in w]}


def check_cpu(w, window, run, last):
    def avg(v):  # jq's add / length: a missing value adds 0 but still counts
        return round1(sum(x or 0 for x in v) / len(v)) if v else None

    def pct(x, key):
        return [get(y, "cpu", key) for s in window for y in s.get("workers") or [] if y.get("id") == x.get("id")]

    cpu = [{"id": x["id"], "user_s": get(x, "cpu", "user_s"), "sys_s": get(x, "cpu", "sys_s"),
            "user_pct_mean": avg(pct(x, "user_pct")), "sys_pct_mean": avg(pct(x, "sys_pct"))} for x in w]
    numeric = all(is_num(get(x, "cpu", k)) for x in w for k in ("user_s", "sys_s", "user_pct", "sys_pct"))
    ok = (len(w) >= 1 and numeric and all(x["cpu"]["user_s"] + x["cpu"]["sys_s"] > 0 for x in w)
          and all(is_num(get(y, "cpu", k)) for s in run for y in s.get("workers") or [] for k in ("user_pct", "sys_pct")))
    detail = "no workers in the stats" if not w else "; ".join(
        f"w{txt(c['id'])}: user {txt(round1(c['user_s']))} s, sys {txt(round1(c['sys_s']))} s"
        f" (mean {txt(c['user_pct_mean'])}% + {txt(c['sys_pct_mean'])}% of a core)" for c in cpu)
    return {"name": "CPU reported per worker", "ok": ok, "detail": detail, "workers": cpu,
            "process": get(last, "process", "cpu")}


def check_drain(meta, final, run, sfds, tol):
    if meta.get("shared"):
        return {"name": "drained after the clients stopped", "ok": None, "open_fds_idle": get(final, "process", "open_fds"),
                "detail": "shared proxy (--shared): other clients may still be connected: not judged"}
    fd_ref = hi(sfds)
    if fd_ref is None:
        fd_ref = hi([sessionless_fds(s) for s in run])
    limit = (fd_ref or 0) + tol["fd_max_minus_min"]  # jq: null + n = n
    idle = get(final, "process", "open_fds")
    ok = meta["drain_s"] is not None and final is not None and idle is not None and idle <= limit
    if meta["drain_s"] is None:
        active = get(final, "totals", "connections_active")
        detail = f"connections_active still {txt('unknown' if active is None else active)} 10 s after the clients stopped"
    else:
        detail = (f"connections_active 0 after {txt(meta['drain_s'])} s; open_fds {txt(idle)}"
                  f" (limit {txt(limit)}: the sessionless fds under load + {txt(tol['fd_max_minus_min'])})")
    return {"name": "drained after the clients stopped", "ok": ok, "detail": detail, "open_fds_idle": idle}


def check_stats(meta, run):
    return {"name": "stats socket answered", "ok": len(run) >= 1 and meta["stats_misses"] == 0,
            "detail": f"{len(run)} samples every {txt(meta['interval_s'])} s, {txt(meta['stats_misses'])} unanswered"}


def check_processes(meta):
    rc = meta["exit_codes"]
    early = meta["stop_reason"].startswith("exited early")
    ok = not early and (meta["client_only"] or (rc.get("proxy") == 0 and rc.get("server") == 0))
    detail = f"stopped by {meta['stop_reason']} after {txt(meta['run_s'])} s"
    if not meta["client_only"]:
        detail += f"; exit codes after SIGTERM: proxy {txt(rc.get('proxy'))}, server {txt(rc.get('server'))}"
    return {"name": "processes ran to the end", "ok": ok, "detail": detail}


def host_tcp(run, final):
    """The machine's TCP memory over the run (reported, not judged: every process on the machine
    counts, and --mode sockmap's two-way bulk leaves some charged for good, docs/sockmap.md)."""
    both = run + ([final] if final is not None else [])
    mem = [m for m in (get(s, "process", "host_tcp_memory_bytes") for s in both) if is_num(m)]
    if not mem:
        return None
    flagged = [get(s, "process", "host_tcp_under_pressure") for s in run]
    return {"start_bytes": mem[0], "end_bytes": mem[-1], "peak_bytes": max(mem), "growth_bytes": mem[-1] - mem[0],
            "pressure_samples": sum(1 for f in flagged if f == 1), "samples": len(run)}


def verdict(meta, samples, client, stream, churn):
    """The verdict document (verdict.json) of one run."""
    run = [s for s in samples if get(s, "soak", "phase") == "run"]
    finals = [s for s in samples if get(s, "soak", "phase") == "final"]
    final = finals[-1] if finals else None
    last = final if final is not None else (run[-1] if run else None)
    steady = [s for s in run if s["soak"]["t"] >= meta["warmup_s"]]
    tol = meta["tolerances"]
    w = (last or {}).get("workers") or []

    c_throughput, avg_rate = check_throughput(run)
    c_fds, sfds = check_fds(meta, steady, tol)
    c_rss = check_rss(meta, steady, tol)
    c_cpu = check_cpu(w, steady or run, run, last)
    checks = [c_throughput, check_clients(meta, client, stream, churn), check_counters(last, meta.get("baseline_counters")), c_fds, c_rss,
              check_workers(meta, w), c_cpu, check_drain(meta, final, run, sfds, tol), check_stats(meta, run),
              check_processes(meta)]
    # The mode in effect: the proxy's own word when its stats carry it (a mode it cannot run falls
    # back), else the mode asked for is the one that ran.
    effective = get(last, "mode_effective")
    return {"ok": all(c["ok"] is not False for c in checks),
            "mode": meta["mode"],
            "mode_effective": effective if effective is not None else meta["mode"],
            "mode_effective_source": "stats" if effective is not None else "asked (the stats carry no mode_effective)",
            "workers": meta["workers"], "run_s": meta["run_s"], "stop_reason": meta["stop_reason"],
            "summary": {
                "mean_bytes_per_s": jround(avg_rate),
                "bytes_total": get(last, "totals", "bytes"),
                "connections_total": get(last, "totals", "connections_total"),
                "open_fds": c_fds["open_fds"], "sessionless_fds": c_fds["sessionless_fds"],
                "rss_bytes": c_rss["rss_bytes"], "cpu_workers": c_cpu["workers"],
                "pingpong_messages": get(client, "messages"),
                "pingpong_latency_us": get(client, "latency_us"),
                "host_tcp_memory": host_tcp(run, final)},
            "checks": checks, "meta": meta}


def table(v):
    """The verdict as a table for people."""
    def pad(s, n):
        return s + " " * max(n - len(s), 0)

    res = {True: "PASS", False: "FAIL", None: "SKIP"}
    if v.get("mode_effective_source") == "stats":
        mode = v["mode"] if v["mode_effective"] == v["mode"] else f"{v['mode']}, in effect {v['mode_effective']}"
    else:
        mode = f"{v['mode']}, in effect as asked"
    lines = ["", f"soak verdict: {'PASS' if v['ok'] else 'FAIL'}  ({mode}, {txt(v['workers'])} workers,"
                 f" {txt(v['run_s'])} s, stopped by {v['stop_reason']})", "",
             pad("check", 38) + "result  detail", "-" * 37 + " ------  " + "-" * 40]
    lines += [pad(c["name"], 38) + pad(res[c["ok"]], 8) + c["detail"] for c in v["checks"]] + [""]
    host = (v.get("summary") or {}).get("host_tcp_memory")
    if host:
        mb = lambda b: f"{b / 1e6:.1f} MB"  # noqa: E731
        lines += [f"machine (not judged): kernel TCP memory {mb(host['start_bytes'])} at the start, "
                  f"{mb(host['end_bytes'])} at the end, peak {mb(host['peak_bytes'])}; under pressure in "
                  f"{host['pressure_samples']} of {host['samples']} samples", ""]
    return "\n".join(lines) + "\n"


# ---- the log directory -------------------------------------------------------------------------


class LogError(Exception):
    pass


def read_ndjson(path, missing_ok=False):
    """One JSON value per line (blank lines skipped); LogError naming the line that is not JSON."""
    try:
        with open(path) as f:
            lines = f.readlines()
    except FileNotFoundError:
        if missing_ok:
            return []
        raise LogError(f"{path}: missing")
    except OSError as e:
        raise LogError(f"{path}: {e.strerror}")
    out = []
    for i, line in enumerate(lines, 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError as e:
                raise LogError(f"{path} line {i}: not JSON ({e})")
    return out


def from_dir(d):
    """The verdict of the run logged in d (meta.json, samples.ndjson, client outputs)."""
    try:
        with open(os.path.join(d, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise LogError(f"{d}/meta.json: {getattr(e, 'strerror', None) or e}")
    samples = read_ndjson(os.path.join(d, "samples.ndjson"))
    churn = read_ndjson(os.path.join(d, "churn.ndjson"), missing_ok=True)
    return verdict(meta, samples, summary_of(os.path.join(d, "client.json")),
                   summary_of(os.path.join(d, "stream.json")), churn)
