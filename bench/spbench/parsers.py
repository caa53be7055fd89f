"""Readers of every client's output: each returns (metrics, raw document, problems) or raises
ValueError with a one-line reason. Pure functions of the text, so the unit tests feed them
captured outputs."""

import csv
import hashlib
import io
import json
import re


def pctl(d, *names):
    for n in names:
        if d and d.get(n) is not None:
            return float(d[n])
    return None


def parse_ping(stdout, mode):
    docs = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                docs.append(json.loads(line))
            except ValueError:
                pass
    summaries = [d for d in docs if d.get("type") == "summary"]
    if not summaries:
        raise ValueError("no summary JSON line in tcp_ping_client output")
    s = summaries[-1]
    dur = float(s.get("duration_s") or 0)
    rx = int(s.get("bytes_received") or 0)
    tx = int(s.get("bytes_sent") or 0)
    tp = s.get("throughput") or {}
    lat = s.get("latency_us") or {}
    m = {
        "duration_s": dur,
        "messages": s.get("messages"),
        "bytes_sent": tx,
        "bytes_received": rx,
        # one way: the bytes that came back to the client (each crossed the proxy twice).
        "bytes_oneway": rx,
        "msg_per_s": float(tp["messages_per_s"]) if tp.get("messages_per_s") is not None
        else (s.get("messages", 0) / dur if dur else None),
        "gbit_per_s": rx * 8 / dur / 1e9 if dur else None,
        "client_gbit_per_s": float(tp["mbit_per_s"]) / 1000 if tp.get("mbit_per_s") is not None else None,
        "latency_us": {"min": pctl(lat, "min"), "mean": pctl(lat, "mean"), "p50": pctl(lat, "p50"),
                       "p90": pctl(lat, "p90"), "p99": pctl(lat, "p99"),
                       "p999": pctl(lat, "p999", "p99.9"), "max": pctl(lat, "max")},
        "errors": s.get("errors"),
        "client_ok": s.get("ok"),
    }
    if mode == "stream":
        m["latency_us"] = {k: None for k in m["latency_us"]}  # not meaningful for a stream
        m["stream_latency_us"] = {k: pctl(lat, k) for k in ("p50", "p99", "max")}
    problems = []
    if s.get("ok") is False:
        problems.append("client reported ok=false")
    errs = s.get("errors") or {}
    if isinstance(errs, dict):
        nonzero = {k: v for k, v in errs.items() if isinstance(v, (int, float)) and v}
        if nonzero:
            m["errors_nonzero"] = nonzero
    return m, {"lines": docs}, problems


def _latency(summary):
    lat = (summary or {}).get("latency_us") or {}
    return {"min": pctl(lat, "min"), "mean": pctl(lat, "mean"), "p50": pctl(lat, "p50"), "p90": pctl(lat, "p90"),
            "p99": pctl(lat, "p99"), "p999": pctl(lat, "p999"), "max": pctl(lat, "max")}


def parse_mixed(stdout):
    """mixed.py's one JSON line: the victim alone and beside the streams, and the streams. Throughput
    is the streams' (the bytes that came back to them); latency the victim's beside them."""
    docs = [json.loads(line) for line in stdout.splitlines() if line.strip().startswith("{")]
    docs = [d for d in docs if d.get("type") == "mixed"]
    if not docs:
        raise ValueError("no mixed JSON line in the mixed client's output")
    d = docs[-1]
    streams = d.get("streams") or {}
    alone, loaded = d.get("victim_alone"), d.get("victim_loaded")
    dur = float(streams.get("duration_s") or 0)
    rx = int(streams.get("bytes_received") or 0)
    m = {
        "duration_s": dur,
        "bytes_sent": int(streams.get("bytes_sent") or 0),
        "bytes_received": rx,
        "bytes_oneway": rx,
        "gbit_per_s": rx * 8 / dur / 1e9 if dur else None,
        "streams": d.get("streams_n"),
        "latency_us": _latency(loaded),
        "victim_alone_latency_us": _latency(alone),
        "victim_messages": {"alone": (alone or {}).get("messages"), "loaded": (loaded or {}).get("messages")},
        "victim_stalls": {"alone": (alone or {}).get("stalls"), "loaded": (loaded or {}).get("stalls")},
        "client_ok": d.get("ok"),
    }
    a50, l50 = m["victim_alone_latency_us"]["p50"], m["latency_us"]["p50"]
    m["victim_p50_slowdown"] = l50 / a50 if a50 and l50 is not None else None
    problems = []
    if not d.get("ok"):
        problems.append("mixed client reported ok=false: " + json.dumps(d.get("exit_codes")))
    for name, s in (("victim alone", alone), ("victim beside the streams", loaded), ("streams", streams)):
        errs = (s or {}).get("errors") or {}
        nonzero = {k: v for k, v in errs.items() if k != "total" and isinstance(v, (int, float)) and v}
        if nonzero:
            problems.append(f"{name}: errors {nonzero}")
    return m, d, problems


def parse_iperf3(stdout):
    doc = json.loads(stdout)
    if doc.get("error"):
        raise ValueError("iperf3: " + str(doc["error"]))
    end = doc.get("end") or {}
    rcv = end.get("sum_received") or {}
    snt = end.get("sum_sent") or {}
    whole = sum(int(iv["sum"]["bytes"]) for iv in doc.get("intervals", []) if "sum" in iv)
    m = {
        "duration_s": float(rcv.get("seconds") or 0),
        "bytes_received": int(rcv.get("bytes") or 0),
        "bytes_sent": int(snt.get("bytes") or 0),
        # CPU is measured over the whole client run, so the bytes are too (omitted intervals included)
        "bytes_oneway": whole,
        "gbit_per_s": float(rcv.get("bits_per_second") or 0) / 1e9,
        "msg_per_s": None,
        "retransmits": snt.get("retransmits"),
        "iperf3_cpu_pct": end.get("cpu_utilization_percent"),
        "latency_us": {k: None for k in ("min", "mean", "p50", "p90", "p99", "p999", "max")},
    }
    return m, doc, []


SOCKPERF_NUM = r"([0-9.]+)"


def parse_sockperf(stdout, length):
    text = re.sub(r"\x1b\[[0-9;]*m", "", stdout)
    total = re.search(r"\[Total Run\] RunTime=" + SOCKPERF_NUM + r" sec; Warm up time=(\d+) msec; "
                      r"SentMessages=(\d+); ReceivedMessages=(\d+)", text)
    valid = re.search(r"\[Valid Duration\] RunTime=" + SOCKPERF_NUM + r" sec; SentMessages=(\d+); "
                      r"ReceivedMessages=(\d+)", text)
    if not total or not valid:
        raise ValueError("sockperf output has no [Total Run]/[Valid Duration] line")
    pct = {}
    for name, val in re.findall(r"---> percentile ([0-9.]+) =\s+([0-9.]+)", text):
        pct[name] = float(val)
    mx = re.search(r"---> <MAX> observation =\s+([0-9.]+)", text)
    mn = re.search(r"---> <MIN> observation =\s+([0-9.]+)", text)
    avg = re.search(r"avg-(?:latency|rtt)=([0-9.]+)", text)
    vdur = float(valid.group(1))
    vrecv = int(valid.group(3))
    m = {
        "duration_s": vdur,
        "warmup_ms": int(total.group(2)),
        "messages": vrecv,
        "bytes_received": vrecv * length,
        # whole run (sockperf's own warm-up included), to match the whole-run CPU window
        "bytes_oneway": int(total.group(4)) * length,
        "msg_per_s": vrecv / vdur if vdur else None,
        "gbit_per_s": vrecv * length * 8 / vdur / 1e9 if vdur else None,
        "latency_us": {"min": float(mn.group(1)) if mn else None, "mean": float(avg.group(1)) if avg else None,
                       "p50": pct.get("50.000"), "p90": pct.get("90.000"), "p99": pct.get("99.000"),
                       "p999": pct.get("99.900"), "max": float(mx.group(1)) if mx else None},
    }
    return m, {"text": text}, []



NO_LATENCY = {k: None for k in ("min", "mean", "p50", "p90", "p99", "p999", "max")}


def parse_redis_benchmark(stdout, test):
    """redis-benchmark --csv (a header row "test","rps",...; redis 6 has only test and rps) or -q
    ("GET: 123.45 requests per second, p50=0.1 msec"); progress lines ending in \\r are ignored."""
    lines = [l.strip() for l in re.split(r"[\r\n]+", stdout) if l.strip()]
    rows = []
    csv_lines = [l for l in lines if l.startswith('"')]
    if csv_lines:
        reader = csv.reader(io.StringIO("\n".join(csv_lines)))
        header = None
        for rec in reader:
            if rec and rec[0].lower() == "test":
                header = [h.lower() for h in rec]
                continue
            if len(rec) >= 2:
                rows.append(dict(zip(header or ["test", "rps"], rec)))
    else:
        for l in lines:
            m = re.match(r"([A-Za-z0-9_ ()-]+?):\s+([0-9.]+) requests per second(?:, p50=([0-9.]+) msec)?", l)
            if m:
                rows.append({"test": m.group(1), "rps": m.group(2), "p50_latency_ms": m.group(3)})
    want = [r for r in rows if r.get("test", "").strip().upper().startswith(test.upper())]
    if not want:
        raise ValueError(f"redis-benchmark output has no {test.upper()} result")
    r = want[-1]

    def ms(key):
        v = r.get(key)
        try:
            return float(v) * 1000.0 if v not in (None, "") else None
        except ValueError:
            return None

    rps = float(r["rps"])
    if rps <= 0:
        raise ValueError(f"redis-benchmark {test.upper()}: {rps} requests per second")
    m = {"msg_per_s": rps, "requests_per_s": rps, "gbit_per_s": None, "bytes_oneway": None,
         "latency_us": dict(NO_LATENCY, mean=ms("avg_latency_ms"), min=ms("min_latency_ms"),
                            p50=ms("p50_latency_ms"), p99=ms("p99_latency_ms"), max=ms("max_latency_ms"))}
    return m, {"rows": rows}, []


WRK_UNITS = {"us": 1.0, "ms": 1000.0, "s": 1e6, "m": 60e6, "h": 3600e6}
BIN_UNITS = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


def wrk_time_us(s):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", s)
    if not m:
        raise ValueError(f"wrk: bad time '{s}'")
    return float(m.group(1)) * WRK_UNITS[m.group(2)]


def parse_wrk(stdout):
    """wrk's summary: "N requests in Xs, Y MB read", "Requests/sec:", the --latency distribution,
    socket errors and non-2xx responses (both count as problems)."""
    done = re.search(r"(\d+) requests in ([0-9.]+)(us|ms|s|m|h), ([0-9.]+)([KMGT]?B) read", stdout)
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", stdout)
    if not done or not rate:
        raise ValueError("wrk output has no 'requests in' / 'Requests/sec' summary")
    reqs = int(done.group(1))
    secs = float(done.group(2)) * WRK_UNITS[done.group(3)] / 1e6
    nbytes = int(float(done.group(4)) * BIN_UNITS[done.group(5)])
    pct = {p: wrk_time_us(v) for p, v in re.findall(r"^\s*(50|75|90|99)(?:\.0+)?%\s+(\S+)\s*$", stdout, re.M)}
    avg = re.search(r"^\s*Latency\s+(\S+)\s+\S+\s+(\S+)", stdout, re.M)
    problems = []
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", stdout)
    socket_errors = dict(zip(("connect", "read", "write", "timeout"), map(int, errs.groups()))) if errs else {}
    if any(socket_errors.values()):
        problems.append(f"wrk socket errors {socket_errors}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", stdout)
    if non2xx and int(non2xx.group(1)):
        problems.append(f"wrk: {non2xx.group(1)} non-2xx/3xx responses")
    if reqs <= 0:
        problems.append("wrk: no request completed")
    m = {"msg_per_s": float(rate.group(1)), "requests": reqs, "duration_s": secs,
         "bytes_received": nbytes, "bytes_oneway": nbytes,
         "gbit_per_s": nbytes * 8 / secs / 1e9 if secs else None,
         "latency_us": dict(NO_LATENCY, mean=wrk_time_us(avg.group(1)) if avg else None,
                            max=wrk_time_us(avg.group(2)) if avg else None,
                            p50=pct.get("50"), p90=pct.get("90"), p99=pct.get("99"))}
    if socket_errors:
        m["socket_errors"] = socket_errors
    return m, {"text": stdout}, problems


def sha256_file(path):
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def parse_curl(stdout, want_sha256, want_size, digests):
    """curl -w '%{json}\\n', one JSON line per fetch, and the sha256 of every fetched file (None when
    the file is missing). A digest that differs from the served file's is a failed run."""
    fetches = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                fetches.append(json.loads(line))
            except ValueError:
                pass
    if not fetches:
        raise ValueError("curl printed no -w %{json} line")
    problems = []
    for i, f in enumerate(fetches):
        code = f.get("response_code") or f.get("http_code")
        if f.get("exitcode") or code != 200:
            problems.append(f"fetch {i + 1}: curl exit {f.get('exitcode')} HTTP {code} {f.get('errormsg') or ''}".strip())
        elif int(f.get("size_download") or 0) != want_size:
            problems.append(f"fetch {i + 1}: {f.get('size_download')} bytes, expected {want_size}")
    if len(digests) != len(fetches):
        problems.append(f"{len(fetches)} fetches reported, {len(digests)} files checked")
    for i, d in enumerate(digests):
        if d != want_sha256:
            problems.append(f"fetch {i + 1}: sha256 MISMATCH {d or 'no file'} != {want_sha256}")
    nbytes = sum(int(f.get("size_download") or 0) for f in fetches)
    secs = sum(float(f.get("time_total") or 0) for f in fetches)
    m = {"fetches": len(fetches), "bytes_received": nbytes, "bytes_oneway": nbytes, "duration_s": secs,
         "gbit_per_s": nbytes * 8 / secs / 1e9 if secs else None, "msg_per_s": None,
         "sha256_ok": not any("sha256" in p for p in problems) and len(digests) == len(fetches),
         "latency_us": dict(NO_LATENCY)}
    return m, {"fetches": fetches, "sha256": digests}, problems
