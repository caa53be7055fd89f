"""The client output readers, fed captured outputs of the real tools."""

import json
import os

import pytest

from spbench import parsers

DATA = os.path.join(os.path.dirname(__file__), "data")


def data(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


def test_redis_csv_reads_rate_and_latency_in_us():
    m, raw, problems = parsers.parse_redis_benchmark(data("redis-csv.txt"), "get")
    assert m["msg_per_s"] == pytest.approx(571428.56)
    assert m["latency_us"]["p50"] == pytest.approx(1047.0)
    assert m["latency_us"]["p99"] == pytest.approx(5255.0)
    assert problems == []


def test_redis_quiet_output_skips_progress_lines():
    m, _, _ = parsers.parse_redis_benchmark(data("redis-q.txt"), "set")
    assert m["msg_per_s"] == pytest.approx(49382.71)  # not the 59478.1 of a progress line
    assert m["latency_us"]["p50"] == pytest.approx(479.0)


def test_redis6_csv_without_header():
    m, _, _ = parsers.parse_redis_benchmark('"PING_INLINE","1000.00"\n"SET","12345.50"\n', "set")
    assert m["msg_per_s"] == pytest.approx(12345.5)
    assert m["latency_us"]["p50"] is None


def test_redis_other_test_only_is_an_error():
    with pytest.raises(ValueError):
        parsers.parse_redis_benchmark(data("redis-csv.txt"), "set")


def test_wrk_summary_units():
    m, _, problems = parsers.parse_wrk(data("wrk.txt"))
    assert m["msg_per_s"] == pytest.approx(19932.40)
    assert m["requests"] == 20161
    assert m["bytes_oneway"] == int(24.57 * 1024 * 1024)
    assert m["duration_s"] == pytest.approx(1.01)
    assert m["latency_us"]["p50"] == pytest.approx(2980.0)
    assert m["latency_us"]["p99"] == pytest.approx(8100.0)
    assert m["latency_us"]["max"] == pytest.approx(10810.0)
    assert problems == []


def test_wrk_socket_errors_and_bad_responses_are_problems():
    text = data("wrk.txt").replace(
        "Requests/sec:", "  Socket errors: connect 0, read 3, write 0, timeout 1\n"
        "  Non-2xx or 3xx responses: 7\nRequests/sec:")
    _, _, problems = parsers.parse_wrk(text)
    assert any("socket errors" in p for p in problems)
    assert any("7 non-2xx" in p for p in problems)


def test_wrk_time_units():
    assert parsers.wrk_time_us("850.00us") == pytest.approx(850.0)
    assert parsers.wrk_time_us("1.50s") == pytest.approx(1.5e6)
    with pytest.raises(ValueError):
        parsers.wrk_time_us("3 ms")


def test_wrk_without_summary_is_an_error():
    with pytest.raises(ValueError):
        parsers.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def curl_line(size=1000, code=200, exitcode=0, t=0.5):
    return json.dumps({"http_code": code, "response_code": code, "exitcode": exitcode, "errormsg": None,
                       "size_download": size, "time_total": t})


def test_curl_good_fetches():
    out = curl_line() + "\n" + curl_line() + "\n"
    m, _, problems = parsers.parse_curl(out, "abc", 1000, ["abc", "abc"])
    assert problems == []
    assert m["bytes_oneway"] == 2000
    assert m["gbit_per_s"] == pytest.approx(2000 * 8 / 1.0 / 1e9)
    assert m["sha256_ok"] is True


def test_curl_sha256_mismatch_fails():
    _, _, problems = parsers.parse_curl(curl_line() + "\n" + curl_line(), "abc", 1000, ["abc", "abd"])
    assert any("fetch 2: sha256 MISMATCH" in p for p in problems)


def test_curl_missing_file_short_body_and_http_error_fail():
    out = "\n".join([curl_line(size=999), curl_line(code=404, exitcode=22)])
    m, _, problems = parsers.parse_curl(out, "abc", 1000, ["abc", None])
    assert any("999 bytes" in p for p in problems)
    assert any("HTTP 404" in p for p in problems)
    assert any("no file" in p for p in problems)
    assert m["sha256_ok"] is False


def test_curl_without_json_is_an_error():
    with pytest.raises(ValueError):
        parsers.parse_curl("curl: (7) Failed to connect\n", "abc", 1000, [])


def test_sha256_file(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    assert parsers.sha256_file(str(p)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert parsers.sha256_file(str(tmp_path / "missing")) is None


def test_sockperf_valid_duration_and_percentiles():
    m, _, _ = parsers.parse_sockperf(data("sockperf-pp.txt"), 1024)
    assert m["msg_per_s"] == pytest.approx(69242 / 3.55)
    assert m["bytes_oneway"] == 77938 * 1024  # whole run, as the CPU window
    assert m["latency_us"]["p99"] == pytest.approx(81.312)
    assert m["latency_us"]["max"] == pytest.approx(4077.925)


def test_iperf3_counts_every_interval_for_the_cpu_window():
    doc = {"intervals": [{"sum": {"bytes": 100, "omitted": True}}, {"sum": {"bytes": 900}}],
           "end": {"sum_received": {"seconds": 1.0, "bytes": 900, "bits_per_second": 7200.0},
                   "sum_sent": {"bytes": 1000, "retransmits": 3}}}
    m, _, _ = parsers.parse_iperf3(json.dumps(doc))
    assert m["bytes_oneway"] == 1000
    assert m["gbit_per_s"] == pytest.approx(7.2e-6)
    assert m["retransmits"] == 3
    with pytest.raises(ValueError):
        parsers.parse_iperf3(json.dumps({"error": "unable to connect"}))


def test_ping_summary_and_stream_latency():
    line = json.dumps({"type": "summary", "duration_s": 2.0, "bytes_received": 4000, "bytes_sent": 4000,
                       "messages": 40, "throughput": {"messages_per_s": 20.0},
                       "latency_us": {"p50": 10, "p99": 20, "p99.9": 30}, "ok": True, "errors": {"resets": 0}})
    m, _, problems = parsers.parse_ping("noise\n" + line + "\n", "pingpong")
    assert m["msg_per_s"] == 20.0 and m["bytes_oneway"] == 4000
    assert m["latency_us"]["p999"] == 30.0
    assert problems == []
    m, _, _ = parsers.parse_ping(line, "stream")
    assert m["latency_us"]["p99"] is None and m["stream_latency_us"]["p99"] == 20.0
    with pytest.raises(ValueError):
        parsers.parse_ping('{"type": "interval"}\n', "pingpong")
