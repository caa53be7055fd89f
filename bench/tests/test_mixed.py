"""The mixed workload (fair turns): its client's output, its goals against the victim's own figures
and against HAProxy, its report section, and the client itself against a stand-in tcp_ping_client."""

import json
import os
import stat
import subprocess
import sys

from spbench import goals, mixed_report, parsers
from spbench import workloads as W

HERE = os.path.dirname(os.path.abspath(__file__))
MIXED_PY = os.path.join(HERE, "..", "spbench", "mixed.py")


def summary(p50, p99, messages=1000, rx=0, duration=4.0, errors=None):
    errs = {"mismatches": 0, "short_reads": 0, "resets": 0, "connect_failures": 0, "total": 0}
    errs.update(errors or {})
    return {"type": "summary", "ok": not any(v for k, v in errs.items() if k != "total"), "messages": messages,
            "duration_s": duration, "bytes_sent": rx, "bytes_received": rx, "errors": errs,
            "latency_us": {"min": 10.0, "mean": p50, "p50": p50, "p90": p99, "p99": p99, "p999": p99, "max": p99},
            "stalls": {"after_s": 1, "connections": 0, "longest_gap_us": 900.0}}


def mixed_line(alone50=100.0, loaded50=250.0, loaded99=2000.0, stream_bytes=2 * 10 ** 9, ok=True, stream_errors=None):
    return json.dumps({"type": "mixed", "ok": ok, "streams_n": 4, "rate": 500.0,
                       "victim_alone": summary(alone50, 300.0), "victim_loaded": summary(loaded50, loaded99),
                       "streams": summary(0, 0, rx=stream_bytes, duration=5.0, errors=stream_errors),
                       "exit_codes": {"victim_alone": 0, "victim_loaded": 0, "streams": 0}})


def test_parse_mixed_takes_the_streams_throughput_and_the_victims_latency_beside_them():
    m, raw, problems = parsers.parse_mixed("noise\n" + mixed_line() + "\n")
    assert problems == []
    assert m["gbit_per_s"] == 2 * 10 ** 9 * 8 / 5.0 / 1e9
    assert m["bytes_oneway"] == 2 * 10 ** 9
    assert m["latency_us"]["p50"] == 250.0 and m["latency_us"]["p99"] == 2000.0
    assert m["victim_alone_latency_us"]["p50"] == 100.0
    assert m["victim_p50_slowdown"] == 2.5
    assert raw["streams_n"] == 4


def test_parse_mixed_reports_every_failure():
    _, _, problems = parsers.parse_mixed(mixed_line(ok=False, stream_errors={"mismatches": 3}))
    assert any("ok=false" in p for p in problems)
    assert any("streams" in p and "mismatches" in p for p in problems)
    try:
        parsers.parse_mixed("{\"type\": \"summary\"}\n")
    except ValueError as e:
        assert "no mixed JSON" in str(e)
    else:
        raise AssertionError("a line that is not the mixed client's must be refused")


def mixed_run(path, rep, slowdown=2.0, p99=1000.0, gbit=8.0, status="ok"):
    m = {"gbit_per_s": gbit, "bytes_oneway": 10 ** 9, "latency_us": {"p50": 100.0 * slowdown, "p99": p99},
         "victim_alone_latency_us": {"p50": 100.0, "p99": 200.0}, "victim_p50_slowdown": slowdown}
    return {"id": f"{path}-{rep}", "seq": rep, "path": path, "workload": "mixed-4s", "workers": 1, "rep": rep,
            "status": status, "error": None if status == "ok" else "boom", "metrics": m}


def test_mixed_goals_judge_the_victim_against_itself_and_against_haproxy():
    runs = []
    for rep, (slow, p99) in enumerate([(2.0, 1000.0), (2.5, 900.0), (4.0, 1200.0)], start=1):
        runs.append(mixed_run("proxy-rw", rep, slowdown=slow, p99=p99, gbit=9.0))
        runs.append(mixed_run("haproxy", rep, slowdown=30.0, p99=4000.0, gbit=4.0))
    res = {(r["goal"], r["ours"]): r for r in goals.evaluate(runs, W.unit, goals.mixed_goals())}
    assert res[("mixed-victim-p50", "proxy-rw")]["paired_ratios"] == [2.0, 2.5, 4.0]
    assert res[("mixed-victim-p50", "proxy-rw")]["met"] is True  # median 2.5 <= 3
    assert res[("mixed-victim-p99", "proxy-rw")]["median"] == 0.25 and res[("mixed-victim-p99", "proxy-rw")]["met"]
    assert res[("mixed-streams", "proxy-rw")]["median"] == 2.25
    assert ("mixed-victim-p50", "proxy-splice") not in res  # not in this run: no column


def test_mixed_goal_missed_when_the_victim_waits_or_a_run_failed():
    runs = [mixed_run("proxy-uring", 1, slowdown=5.0), mixed_run("haproxy", 1),
            mixed_run("proxy-uring", 2, slowdown=1.0, status="failed"), mixed_run("haproxy", 2)]
    res = {(r["goal"], r["ours"]): r for r in goals.evaluate(runs, W.unit, goals.mixed_goals())}
    assert res[("mixed-victim-p50", "proxy-uring")]["met"] is False


def test_report_section_has_a_row_per_path_with_both_figures():
    runs = [mixed_run("proxy-rw", 1, slowdown=2.0), mixed_run("proxy-rw", 2, slowdown=3.0),
            mixed_run("haproxy", 1, slowdown=40.0, p99=20000.0)]
    text = "\n".join(mixed_report.markdown(runs, 1))
    assert "### 4 bulk streams (`mixed-4s`)" in text
    assert "| proxy-rw | 100 µs | 200 µs | 250 µs | 1000 µs | 2.50× | 8.00 | 2 ok |" in text
    assert "| haproxy | 100 µs | 200 µs | 4000 µs | 20.00 ms | 40.00× | 8.00 | 1 ok |" in text


def fake_client(tmp_path, fail_streams=False):
    """A stand-in tcp_ping_client: one summary line; the stream one reports a mismatch when asked."""
    script = tmp_path / "tcp_ping_client"
    script.write_text(f"""#!{sys.executable}
import json, sys
stream = "stream" in sys.argv
s = {summary(80.0, 150.0)!r}
if stream:
    s["bytes_received"] = 10 ** 9
    if {fail_streams!r}:
        s["errors"]["mismatches"] = 1
        s["ok"] = False
print(json.dumps(s))
sys.exit(0 if s["ok"] else 1)
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_mixed_client_runs_victim_alone_then_beside_the_streams(tmp_path):
    r = subprocess.run([sys.executable, MIXED_PY, "--client", fake_client(tmp_path), "-p", "1", "--streams", "4",
                        "--duration", "0.2", "--warmup", "0.1"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] and doc["streams_n"] == 4
    assert doc["victim_alone"]["latency_us"]["p50"] == 80.0
    assert doc["streams"]["bytes_received"] == 10 ** 9


def test_mixed_client_fails_when_a_stream_saw_a_wrong_byte(tmp_path):
    r = subprocess.run([sys.executable, MIXED_PY, "--client", fake_client(tmp_path, fail_streams=True), "-p", "1",
                        "--streams", "1", "--duration", "0.2", "--warmup", "0.1"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert json.loads(r.stdout)["ok"] is False


def test_mixed_workloads_are_planned_at_one_four_sixteen_streams():
    assert [W.WORKLOADS[w]["streams"] for w in W.MIXED] == [1, 4, 16]
    assert "mixed-4s" in W.QUICK and set(W.MIXED) <= set(W.DEFAULT)
