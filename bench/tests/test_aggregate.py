"""Medians, ratios and the best swept setting."""

import pytest

from spbench.aggregate import aggregate, best_path, best_settings, path_checks, stat3
from helpers import run


def test_stat3_ignores_missing_values():
    assert stat3([3.0, None, 1.0, 2.0, float("nan")]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    assert stat3([None]) is None


def test_aggregate_medians_over_ok_runs_and_counts_failures():
    runs = [run("proxy-rw", "iperf3-P1", 1, tp=10.0, cpu=0.5), run("proxy-rw", "iperf3-P1", 2, tp=30.0, cpu=0.3),
            run("proxy-rw", "iperf3-P1", 3, tp=20.0, cpu=0.4), run("proxy-rw", "iperf3-P1", 4, status="failed")]
    (a,) = aggregate(runs)
    assert a["throughput"]["median"] == 20.0 and a["throughput"]["n"] == 3
    assert a["cpu_s_per_gb"]["total"]["median"] == 0.4
    assert a["runs"] == 4 and a["ok"] == 3 and a["failed"] == 1


def test_ratios_against_same_mode_haproxy_and_rw():
    runs = [run("proxy-splice", "iperf3-P1", 1, tp=20.0, cpu=0.2), run("haproxy-splice", "iperf3-P1", 1, tp=10.0, cpu=0.4),
            run("proxy-rw", "iperf3-P1", 1, tp=5.0, cpu=0.8), run("direct", "iperf3-P1", 1, tp=40.0)]
    idx = {a["path"]: a for a in aggregate(runs)}
    r = idx["proxy-splice"]["ratios"]
    assert r["throughput_vs_haproxy_same_mode"] == 2.0
    assert r["cpu_per_gb_vs_haproxy_same_mode"] == 0.5
    assert r["throughput_splice_vs_rw"] == 4.0
    assert r["throughput_vs_direct"] == 0.5


def test_best_setting_per_metric_and_only_among_swept_sizes():
    runs = [run("proxy-rw", "iperf3-P1", 1, tp=50.0, cpu=0.1, machine=0.5),  # the default: not a candidate
            run("proxy-rw@16K", "iperf3-P1", 1, tp=10.0, cpu=0.30, machine=0.6),
            run("proxy-rw@1M", "iperf3-P1", 1, tp=20.0, cpu=0.35, machine=0.9),
            run("proxy-rw@256K", "iperf3-P1", 1, tp=15.0, cpu=0.40, machine=0.4)]
    (b,) = best_settings(aggregate(runs))
    assert b["path"] == "proxy-rw" and b["default"] == "proxy-rw"
    assert b["best"]["throughput"]["path"] == "proxy-rw@1M"
    assert b["best"]["throughput"]["default_median"] == 50.0
    assert b["best"]["cpu"]["path"] == "proxy-rw@16K"
    assert b["best"]["machine_cpu"]["path"] == "proxy-rw@256K"
    assert best_path([b], "iperf3-P1", 1, "proxy-rw", "cpu") == "proxy-rw@16K"
    assert best_path([b], "iperf3-P1", 2, "proxy-rw", "cpu") is None


def test_path_checks_counts_request_workloads_without_bytes():
    r = run("haproxy", "redis-set", 1, tp=1000.0, unit="msg_per_s")
    r["metrics"]["bytes_oneway"] = None
    moved = path_checks([r, run("direct", "redis-set", 1, status="failed")], ["direct", "haproxy"])
    assert moved == {"direct": 0, "haproxy": 1}


def test_cpu_per_request_aggregated_for_request_workloads():
    runs = []
    for rep, us in ((1, 4.0), (2, 6.0), (3, 5.0)):
        r = run("proxy-rw", "redis-set", rep, tp=1000.0, unit="msg_per_s")
        r["metrics"].update(bytes_oneway=None, cpu_us_per_request=us, machine_cpu_us_per_request=3 * us)
        runs.append(r)
    (a,) = aggregate(runs)
    assert a["cpu_us_per_request"]["median"] == 5.0
    assert a["machine_cpu_us_per_request"]["max"] == 18.0


def test_io_calls_count_io_uring_enter_for_the_uring_path():
    from spbench.aggregate import per_mb
    m = {"bytes_oneway": 2 * 10 ** 6, "cpu": {"window_s": 4.0},
         "proxy_counters": {"uring_enters": 300, "read_calls": 0, "write_calls": 0, "splice_calls": 0}}
    assert per_mb(m, "io_calls") == 150
    assert per_mb(m, "uring_enters") == 150


def test_kernel_share_of_a_sockmap_run_from_the_moved_bytes():
    from spbench.aggregate import kernel_relayed_pct
    runs = []
    for rep, moved in ((1, 150), (2, 100), (3, 190)):  # of 200 bytes each run (100 each way)
        r = run("proxy-sockmap", "iperf3-P1", rep, tp=10.0)
        r["metrics"]["proxy_counters"] = {"bytes_in": 100, "bytes_out": 100, "sockmap_moved_bytes": moved}
        runs.append(r)
    (a,) = aggregate(runs)
    share = a["kernel_relayed_pct"]
    assert share["n"] == 3 and share["median"] == pytest.approx(25.0)
    assert (share["min"], share["max"]) == (pytest.approx(5.0), pytest.approx(50.0))
    # other paths, and a run without counters, have no share
    assert kernel_relayed_pct({"proxy_counters": {"bytes_in": 100, "bytes_out": 100}}) is None
    assert kernel_relayed_pct({}) is None
    declined = {"bytes_in": 100, "bytes_out": 100, "sockmap_moved_bytes": 10, "sockmap_declined": 1}
    assert kernel_relayed_pct({"proxy_counters": declined}) is None  # a session went to splice
    assert kernel_relayed_pct({"proxy_counters": {"bytes_in": 0, "sockmap_moved_bytes": 0}}) is None
