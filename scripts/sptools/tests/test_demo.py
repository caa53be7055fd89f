"""The demo's logic: medians and ranges, the verdict's "within noise", the figures of one run, the
modes read from `proxy -h`, and the command line."""

import os

import pytest

from sptools import demo_logic as dl
from sptools import demo_run

PROXY_HELP = """usage: proxy [options]
options:
  -z, --splice                use the splice pump (same as --mode splice)
      --mode rw|splice|auto   how bytes move: read/write through a user buffer, splice, or auto (default: rw)
  -w, --workers N             worker threads (default: online CPUs (2))
"""


def s(values):
    return dl.summary(values)


def test_median_of_odd_and_even_counts_and_nothing():
    assert dl.median([3, 1, 2]) == 2
    assert dl.median([4, 1, 3, 2]) == 2.5
    assert dl.median([]) is None


def test_summary_leaves_out_what_was_not_measured():
    got = dl.summary([5.0, None, 1.0, 3.0])
    assert (got["median"], got["min"], got["max"], got["n"]) == (3.0, 1.0, 5.0, 3)
    assert dl.summary([None]) is None


def test_run_figures_per_gb_one_way():
    summary = {"bytes_received": 2_000_000_000, "latency_us": {"p50": 31.5},
               "throughput": {"received_bytes_per_s": 500e6, "messages_per_s": 1234.0}}
    f = dl.run_figures(summary, proxy_cpu_s=0.5, machine_cpu_s=3.0)
    assert f["mb_per_s"] == 500.0
    assert f["proxy_cpu_s_per_gb"] == 0.25
    assert f["machine_cpu_s_per_gb"] == 1.5
    assert (f["round_trips_per_s"], f["p50_us"]) == (1234.0, 31.5)
    assert dl.run_figures({"bytes_received": 0}, 1.0, 1.0)["proxy_cpu_s_per_gb"] is None


def test_a_clear_winner_is_named_when_ranges_are_apart():
    r = dl.rank({"rw": s([10, 11, 12]), "splice": s([20, 21, 22]), "auto": s([14, 15, 16])}, True)
    assert r["best"] == "splice" and not r["within_noise"]
    assert r["next"] == "auto" and r["ratio_to_next"] == pytest.approx(21 / 15)
    text = dl.judgement("throughput", r, True)
    assert text.startswith("throughput: splice best (1.40x auto")
    assert "noise" not in text


def test_overlapping_ranges_are_within_noise():
    r = dl.rank({"rw": s([10, 15, 20]), "splice": s([18, 19, 30])}, True)
    assert r["best"] == "splice" and r["within_noise"] and r["tied"] == ["rw"]
    assert dl.judgement("throughput", r, True) == "throughput: within noise (splice, rw overlap)"


def test_touching_ranges_count_as_overlapping():
    r = dl.rank({"rw": s([10, 12]), "splice": s([12, 14])}, True)
    assert r["within_noise"]


def test_lower_is_better_for_cpu_and_the_rest_is_behind():
    r = dl.rank({"rw": s([0.9, 1.0, 1.1]), "splice": s([0.5, 0.6, 0.7]), "auto": s([0.6, 0.65, 0.8])}, False)
    assert r["best"] == "splice" and r["tied"] == ["auto"]
    assert dl.judgement("proxy CPU", r, False) == "proxy CPU: within noise (splice, auto overlap; rw behind)"
    r = dl.rank({"rw": s([0.9, 0.95, 1.0]), "splice": s([0.5, 0.55, 0.6])}, False)
    assert dl.judgement("proxy CPU", r, False).startswith("proxy CPU: splice lowest (0.58x rw")


def test_workload_verdict_covers_every_metric_and_the_table_shows_ranges():
    runs = {"rw": [{"mb_per_s": v, "proxy_cpu_s_per_gb": 1.0, "machine_cpu_s_per_gb": 2.0} for v in (100, 110, 120)],
            "splice": [{"mb_per_s": v, "proxy_cpu_s_per_gb": 0.5, "machine_cpu_s_per_gb": 2.1} for v in (200, 210, 220)]}
    res = dl.workload_result("bulk", runs)
    assert res["verdict"].startswith("throughput: splice best")
    assert "proxy CPU: splice lowest" in res["verdict"]
    assert "machine CPU: " in res["verdict"]
    assert res["modes"]["rw"]["mb_per_s"]["median"] == 110 and res["modes"]["rw"]["runs"] == 3
    text = dl.table("bulk", "bulk", res)
    assert "110 (100-120)" in text and "210 (200-220)" in text
    assert text.splitlines()[-1] == "verdict: " + res["verdict"]


def test_parse_count():
    assert dl.parse_count("1024", 1, 2048) == 1024
    assert dl.parse_count("2K", 1, 1 << 20, suffixes=True) == 2048
    assert dl.parse_count("1M", 1, 1 << 20, suffixes=True) == 1 << 20
    for bad in ("0", "x", "1.5", "-3", "3K", ""):
        assert dl.parse_count(bad, 1, 1 << 20) is None


def test_arguments_and_their_defaults():
    o = demo_run.parse_args([])
    assert (o["count"], o["length"], o["seconds"], o["reps"], o["modes"], o["json"]) == (10000, 1024, 3, 3, None, None)
    o = demo_run.parse_args(["-n", "500", "-l", "4K", "-t", "2", "-r", "5", "--modes=rw,splice", "--json", "x.json"])
    assert (o["count"], o["length"], o["seconds"], o["reps"], o["modes"], o["json"]) == (500, 4096, 2, 5, ["rw", "splice"], "x.json")


@pytest.mark.parametrize("argv, why", [(["--bogus"], "unknown option '--bogus'"), (["-n"], "needs a value"),
                                       (["-n", "0"], "bad -n '0'"), (["-r", "2"], "bad -r '2'"),
                                       (["-t", "soon"], "bad -t 'soon'"), (["--modes", "rw;ls"], "bad --modes"),
                                       (["--json", ""], "needs a value")])
def test_bad_command_lines_exit_2_with_one_line_and_the_usage(argv, why, capsys):
    assert demo_run.main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("demo: ") and why in err[0]
    assert err[1] == "usage: demo [options]"


def test_help_names_every_flag_with_its_default(capsys):
    assert demo_run.main(["-h"]) == 0
    out = capsys.readouterr().out
    for flag in ("-n COUNT", "-l LENGTH", "-t SECONDS", "-r REPS", "--modes", "--json", "--bin"):
        line = next(l for l in out.splitlines() if l.strip().startswith(flag))
        assert "default" in line or "default" in out.split(line, 1)[1].lstrip("\n").splitlines()[0], flag


def test_missing_binaries_fail_with_the_directory_named(tmp_path, capsys):
    assert demo_run.main(["--bin", str(tmp_path)]) == 1
    assert f"no proxy in {tmp_path}" in capsys.readouterr().err


def test_unknown_mode_is_a_usage_error(tmp_path, capsys):
    for name in ("proxy", "tcp_ping_server", "tcp_ping_client"):
        p = tmp_path / name
        p.write_text("#!/bin/sh\ncat <<'EOF'\n" + PROXY_HELP + "EOF\n")
        p.chmod(0o755)
    assert demo_run.main(["--bin", str(tmp_path), "--modes", "rw,uring"]) == 2
    assert "the proxy has no mode uring (it offers rw, splice, auto)" in capsys.readouterr().err
    assert os.path.exists(tmp_path / "proxy")


def test_no_verdict_from_fewer_than_three_runs_of_a_mode():
    # An interrupted demo: two clear-looking runs are still not a range worth judging.
    r = dl.rank({"rw": s([10, 11, 12]), "splice": s([30, 31])}, True)
    assert dl.judgement("throughput", r, True) == "throughput: not judged (a mode has 2 runs, fewer than 3)"


def test_a_mode_the_proxy_fell_back_from_is_labelled_with_the_one_in_effect():
    runs = [{"mode": "rw", "mode_effective": "rw"}, {"mode": "uring", "mode_effective": "rw"},
            {"mode": "uring", "mode_effective": "rw"}, {"mode": "splice", "mode_effective": None}]
    assert dl.effective_labels(runs) == {"rw": "rw", "uring": "uring (in effect rw)", "splice": "splice"}
    res = dl.workload_result("bulk", {"uring": [{"mb_per_s": 1.0, "proxy_cpu_s_per_gb": 1.0,
                                                 "machine_cpu_s_per_gb": 1.0}] * 3})
    assert dl.table("bulk", "t", res, dl.effective_labels(runs)).splitlines()[2].startswith("uring (in effect rw)  ")


def test_failed_runs_are_grouped_per_mode_and_workload_in_order():
    failures = [{"mode": "sockmap", "workload": "bulk", "rep": 1, "error": "reset 1"},
                {"mode": "rw", "workload": "pingpong", "rep": 1, "error": "timeout"},
                {"mode": "sockmap", "workload": "bulk", "rep": 2, "error": "reset 2"}]
    grouped = demo_run.failures_by(failures)
    assert list(grouped) == [("sockmap", "bulk"), ("rw", "pingpong")]
    assert grouped[("sockmap", "bulk")] == ["reset 1", "reset 2"]


def test_the_kernel_share_of_a_sockmap_run_from_the_counters():
    before = {"bytes_in": 100, "bytes_out": 100, "sockmap_moved_bytes": 50}
    after = {"bytes_in": 600, "bytes_out": 600, "sockmap_moved_bytes": 800}  # 1,000 bytes, 750 moved on
    assert dl.kernel_relayed_pct(before, after) == pytest.approx(25.0)
    assert dl.kernel_relayed_pct(before, before) is None  # no bytes in between
    assert dl.kernel_relayed_pct({}, {"bytes_in": 10}) is None  # an older proxy: no counter
    assert dl.kernel_relayed_pct(None, after) is None  # the stats socket did not answer
    declined = dict(after, sockmap_declined=1)  # the guard sent the run's session to splice
    assert dl.kernel_relayed_pct(before, declined) is None


def test_one_line_says_who_moved_the_sockmap_bytes_per_workload():
    runs = [{"mode": "sockmap", "mode_effective": "sockmap", "workload": "bulk", "kernel_relayed_pct": p}
            for p in (1.0, 3.0, 2.0)]
    runs += [{"mode": "sockmap", "mode_effective": "sockmap", "workload": "pingpong", "kernel_relayed_pct": 100.0},
             {"mode": "sockmap", "mode_effective": "splice", "workload": "bulk"},  # declined: not counted
             {"mode": "rw", "mode_effective": "rw", "workload": "bulk", "kernel_relayed_pct": None}]
    line = dl.kernel_share_line(runs, demo_run.WORKLOAD_NAMES)
    assert line.startswith("sockmap: the kernel relayed 2 % of the bulk bytes and 100 % of the ping-pong bytes")
    assert dl.kernel_share_line([r for r in runs if r["mode"] == "rw"], demo_run.WORKLOAD_NAMES) is None


def test_a_sockmap_run_the_guard_sent_to_splice_is_said_to_be_splice():
    before = {"sockmap_declined": 2, "sockmap_fallbacks": 0}
    assert dl.sent_to_splice(before, {"sockmap_declined": 3, "sockmap_fallbacks": 0})
    assert dl.sent_to_splice(before, {"sockmap_declined": 2, "sockmap_fallbacks": 1})
    assert not dl.sent_to_splice(before, dict(before))
    assert not dl.sent_to_splice(None, before)
