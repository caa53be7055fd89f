"""The soak verdict on made-up runs: a healthy one passes every check, and each broken invariant
fails its own check (and only the checks that depend on it)."""

import copy

import pytest

from sptools import soak_verdict as sv

NAMES = ["throughput never stalled", "no mismatches or resets (clients)", "no resets or failed connects (proxy)",
         "open fds flat after warm-up", "RSS flat after warm-up", "every worker got work", "CPU reported per worker",
         "drained after the clients stopped", "stats socket answered", "processes ran to the end"]


def worker(i, wid):
    return {"id": wid, "connections_total": 10 + i, "bytes": 1_000_000 * i,
            "cpu": {"user_pct": 1.5, "sys_pct": 20.0, "user_s": 0.01 * i, "sys_s": 0.2 * i},
            "counters": {"resets": 0, "connect_failed": 0, "connect_timeout": 0, "idle_timeouts": 0, "rw_fallbacks": 0}}


def sample(i, phase="run", active=32, fds=83, rss=5_000_000):
    s = {"version": 1, "program": "proxy", "mode": "rw", "pid": 42,
         "totals": {"connections_active": active, "connections_total": 40 + i, "bytes": 2_000_000 * i,
                    "bytes_per_s": 2_000_000.0, "bytes_per_s_avg": 2_000_000.0},
         "process": {"open_fds": fds, "rss_bytes": rss, "cpu": {"user_s": 0.1 * i, "sys_s": 0.4 * i}},
         "workers": [worker(i, 0), worker(i, 1)], "listeners": [{"address": "127.0.0.1:1", "refused": 0}]}
    s["soak"] = {"t": float(i), "phase": "run", "quiet": True, "held": True} if phase == "run" else \
        {"t": i + 0.5, "phase": "final"}
    return s


def healthy(n=40):
    meta = {"mode": "rw", "workers": 2, "client_only": False, "duration_s": n, "run_s": float(n), "interval_s": 1,
            "warmup_s": 4, "connections": 32, "client_threads": 2, "length": "1024", "rate": "0",
            "stream_connections": 0, "churn_connections": 8, "stop_reason": "duration", "stats_misses": 0,
            "drain_s": 0.1, "proxy": "127.0.0.1:1", "stats": "127.0.0.1:2", "log_dir": "/x",
            "tolerances": {"fd_max_minus_min": 2, "rss_growth_pct": 10, "rss_growth_mib": 8},
            "exit_codes": {"client": 0, "stream": None, "proxy": 0, "server": 0}}
    samples = [sample(i) for i in range(1, n + 1)] + [sample(n, "final", active=0, fds=19)]
    client = {"type": "summary", "ok": True, "messages": 1000, "first_error": None,
              "errors": {"mismatches": 0, "short_reads": 0, "resets": 0, "connect_failures": 0, "total": 0},
              "latency_us": {"p50": 100.04, "p99": 900.05}, "throughput": {"bytes_per_s": 1.0}}
    churn = [{"rc": 0, "interrupted": False, "ok": True, "messages": 1600, "errors": {"total": 0}, "first_error": None}
             for _ in range(5)]
    return {"meta": meta, "samples": samples, "client": client, "stream": None, "churn": churn}


def judge(run):
    v = sv.verdict(run["meta"], run["samples"], run["client"], run["stream"], run["churn"])
    return v, {c["name"]: c for c in v["checks"]}


def failing(run):
    v, checks = judge(run)
    assert v["ok"] is False
    return sorted(n for n, c in checks.items() if c["ok"] is False)


def test_a_healthy_run_passes_every_check():
    v, checks = judge(healthy())
    assert v["ok"] is True
    assert list(checks) == NAMES
    assert all(c["ok"] is True for c in checks.values()), {n: c["detail"] for n, c in checks.items() if c["ok"] is not True}
    assert v["summary"]["mean_bytes_per_s"] == 2_000_000
    assert v["summary"]["open_fds"] == {"min": 83, "max": 83}
    assert checks["open fds flat after warm-up"]["quiet_samples"] == 37  # t >= 4 of 1..40
    assert "p50 100 us, p99 900.1 us" in checks["no mismatches or resets (clients)"]["detail"]


def test_one_interval_at_zero_is_allowed_two_in_a_row_is_a_stall():
    run = healthy()
    run["samples"][10]["totals"]["bytes_per_s"] = 0.0
    assert judge(run)[1]["throughput never stalled"]["ok"] is True
    run["samples"][11]["totals"]["bytes_per_s"] = 0.0
    assert failing(run) == ["throughput never stalled"]
    assert judge(run)[1]["throughput never stalled"]["longest_stall_intervals"] == 2


@pytest.mark.parametrize("field, value", [("ok", False), ("errors", {"total": 1}), ("errors", None)])
def test_a_client_error_fails_the_client_check(field, value):
    run = healthy()
    run["client"][field] = value
    assert failing(run) == ["no mismatches or resets (clients)"]


def test_missing_summary_bad_exit_failed_churn_round_or_stream_fail_the_client_check():
    for breakit in (lambda r: r.update(client=None),
                    lambda r: r["meta"]["exit_codes"].update(client=130),
                    lambda r: r["churn"].append({"rc": 124, "ok": False, "messages": 0, "first_error": None}),
                    lambda r: r.update(churn=[]),
                    lambda r: r["meta"].update(stream_connections=1)):  # a stream asked for, no summary
        run = healthy()
        breakit(run)
        assert failing(run) == ["no mismatches or resets (clients)"]
    run = healthy()
    run["churn"].append({"rc": 124, "ok": False, "messages": 0, "first_error": None})
    assert "1 failed - first: exit 124" in judge(run)[1]["no mismatches or resets (clients)"]["detail"]


@pytest.mark.parametrize("counter", ["resets", "connect_failed", "connect_timeout", "idle_timeouts"])
def test_a_proxy_counter_in_the_last_sample_fails_the_counter_check(counter):
    run = healthy()
    run["samples"][-1]["workers"][1]["counters"][counter] = 1
    assert failing(run) == ["no resets or failed connects (proxy)"]


def test_refused_connections_fail_and_rw_fallbacks_do_not():
    run = healthy()
    run["samples"][-1]["workers"][0]["counters"]["rw_fallbacks"] = 5
    assert judge(run)[0]["ok"] is True
    run["samples"][-1]["listeners"][0]["refused"] = 2
    assert failing(run) == ["no resets or failed connects (proxy)"]


def test_fds_may_move_by_the_tolerance_not_more():
    run = healthy()
    for s in run["samples"][20:40]:
        s["process"]["open_fds"] = 85
    assert judge(run)[1]["open fds flat after warm-up"]["ok"] is True
    for s in run["samples"][30:40]:
        s["process"]["open_fds"] = 86
    assert failing(run) == ["open fds flat after warm-up"]


def test_fds_before_the_warmup_and_in_busy_samples_do_not_count():
    run = healthy()
    run["samples"][0]["process"]["open_fds"] = 200          # t=1 < warm-up
    run["samples"][20]["process"]["open_fds"] = 200         # not quiet: churn sessions open
    run["samples"][20]["soak"].update(quiet=False, held=False)
    v, checks = judge(run)
    assert v["ok"] is True
    assert "1 samples not quiet (not used)" in checks["open fds flat after warm-up"]["detail"]


def test_sessions_still_open_after_the_churn_client_was_held_fail_the_fd_check():
    run = healthy()
    run["samples"][25]["soak"]["quiet"] = False  # held, yet connections_active never came down
    assert failing(run) == ["open fds flat after warm-up"]
    assert judge(run)[1]["open fds flat after warm-up"]["stuck_samples"] == 1


def test_too_few_quiet_samples_are_skipped_not_failed():
    run = healthy(n=6)
    for s in run["samples"][:-1]:
        s["soak"].update(quiet=False, held=False)
    v, checks = judge(run)
    assert checks["open fds flat after warm-up"]["ok"] is None
    assert checks["RSS flat after warm-up"]["ok"] is None  # 3 samples after warm-up: no quarter
    assert v["ok"] is True


def test_rss_growth_over_the_allowance_fails():
    run = healthy()
    for i, s in enumerate(run["samples"][:-1]):
        s["process"]["rss_bytes"] = 5_000_000 + i * 200_000  # 200 KB per interval: ~7 MB first to last quarter
    assert judge(run)[1]["RSS flat after warm-up"]["ok"] is True  # within 8 MiB
    for i, s in enumerate(run["samples"][:-1]):
        s["process"]["rss_bytes"] = 5_000_000 + i * 400_000
    assert failing(run) == ["RSS flat after warm-up"]


def test_rss_allowance_is_the_larger_of_percent_and_mib():
    run = healthy()
    for i, s in enumerate(run["samples"][:-1]):
        s["process"]["rss_bytes"] = 200_000_000 + i * 500_000  # ~15 MB growth: over 8 MiB, under 10 %
    c = judge(run)[1]["RSS flat after warm-up"]
    assert c["ok"] is True and c["rss_bytes"]["limit"] == pytest.approx(c["rss_bytes"]["first_quarter_median"] / 10)


def test_an_idle_worker_or_a_missing_one_fails_the_worker_check():
    for idle in ({"connections_total": 0}, {"bytes": 0}):
        run = healthy()
        run["samples"][-1]["workers"][1].update(idle)
        assert failing(run) == ["every worker got work"]
    run = healthy()
    run["meta"]["workers"] = 3
    assert failing(run) == ["every worker got work"]
    assert "(expected 3 workers)" in judge(run)[1]["every worker got work"]["detail"]


def test_cpu_missing_in_any_sample_or_never_used_fails_the_cpu_check():
    run = healthy()
    run["samples"][5]["workers"][0]["cpu"]["sys_pct"] = None
    assert failing(run) == ["CPU reported per worker"]
    run = healthy()
    run["samples"][-1]["workers"][0]["cpu"].update(user_s=0, sys_s=0)
    assert failing(run) == ["CPU reported per worker"]


def test_no_drain_or_descriptors_left_behind_fail_the_drain_check():
    run = healthy()
    run["meta"]["drain_s"] = None
    run["samples"][-1]["totals"]["connections_active"] = 3
    assert failing(run) == ["drained after the clients stopped"]
    assert "connections_active still 3 10 s after" in judge(run)[1]["drained after the clients stopped"]["detail"]
    run = healthy()
    run["samples"][-1]["process"]["open_fds"] = 19 + 2 + 1  # sessionless 19 under load, + tolerance 2, + 1
    assert failing(run) == ["drained after the clients stopped"]
    run["samples"][-1]["process"]["open_fds"] = 21
    assert judge(run)[0]["ok"] is True


def test_unanswered_stats_fail_and_an_early_exit_or_bad_exit_code_fail_the_process_check():
    run = healthy()
    run["meta"]["stats_misses"] = 1
    assert failing(run) == ["stats socket answered"]
    run = healthy()
    run["meta"]["stop_reason"] = "exited early: proxy"
    assert failing(run) == ["processes ran to the end"]
    run = healthy()
    run["meta"]["exit_codes"]["server"] = "killed"
    assert failing(run) == ["processes ran to the end"]


def test_client_only_does_not_judge_the_processes_it_did_not_start():
    run = healthy()
    run["meta"].update(client_only=True, workers=5)
    run["meta"]["exit_codes"].update(proxy=None, server=None)
    assert judge(run)[0]["ok"] is True


def test_a_shared_proxy_skips_the_fd_and_drain_checks_and_judges_the_rest():
    run = healthy()
    run["meta"].update(client_only=True, shared=True, drain_s=None)
    for smp in run["samples"]:  # other replicas' sessions: never quiet, never drained
        smp["soak"].update(quiet=False, held=False)
        smp["totals"]["connections_active"] += 64
        smp["process"]["open_fds"] += 128 + smp["totals"]["connections_total"] % 7
    v, checks = judge(run)
    assert v["ok"] is True, {n: c["detail"] for n, c in checks.items() if c["ok"] is False}
    assert checks["open fds flat after warm-up"]["ok"] is None
    assert checks["drained after the clients stopped"]["ok"] is None
    assert "shared proxy" in checks["drained after the clients stopped"]["detail"]
    run["client"]["errors"]["total"] = 1
    assert failing(run) == ["no mismatches or resets (clients)"]
    run = healthy()
    run["meta"].update(client_only=True, shared=True)
    run["samples"][-1]["workers"][1]["counters"]["resets"] = 1
    assert failing(run) == ["no resets or failed connects (proxy)"]
    run["meta"]["shared"] = False  # the same unquiet samples without --shared fail as before
    run["samples"][-1]["workers"][1]["counters"]["resets"] = 0
    for smp in run["samples"]:
        smp["soak"].update(quiet=False)
    assert failing(run) == ["open fds flat after warm-up"]


def test_counters_before_the_first_ping_came_through_are_not_the_runs():
    # client-only: clients closed while the proxy's remote did not resolve yet (the ready probe's
    # own tries among them) are counted before the baseline.
    run = healthy()
    run["samples"][-1]["workers"][0]["counters"]["connect_failed"] = 3
    run["samples"][-1]["listeners"][0]["refused"] = 1
    assert failing(run) == ["no resets or failed connects (proxy)"]
    run["meta"].update(client_only=True, baseline_counters={"connect_failed": 3, "refused": 1, "resets": 0})
    v, checks = judge(run)
    assert v["ok"] is True
    assert checks["no resets or failed connects (proxy)"]["counters"]["connect_failed"] == 0
    assert "counted from the first ping that came through" in checks["no resets or failed connects (proxy)"]["detail"]
    run["samples"][-1]["workers"][1]["counters"]["connect_failed"] = 1
    assert failing(run) == ["no resets or failed connects (proxy)"]
    assert "connect_failed 1," in judge(run)[1]["no resets or failed connects (proxy)"]["detail"]


def test_no_samples_at_all_fails_without_crashing():
    run = healthy()
    run["samples"] = []
    run["meta"]["drain_s"] = None
    v, checks = judge(run)
    assert v["ok"] is False and checks["throughput never stalled"]["detail"] == "no samples"
    assert checks["every worker got work"]["detail"] == "no workers in the stats"


def test_mode_in_effect_comes_from_the_stats_when_they_carry_it():
    v, _ = judge(healthy())
    assert (v["mode"], v["mode_effective"]) == ("rw", "rw") and v["mode_effective_source"].startswith("asked")
    assert "(rw, in effect as asked, 2 workers" in sv.table(v)
    run = healthy()
    run["meta"]["mode"] = "uring"
    run["samples"][-1]["mode_effective"] = "rw"  # e.g. io_uring refused by seccomp: fell back
    v, _ = judge(run)
    assert (v["mode"], v["mode_effective"], v["mode_effective_source"]) == ("uring", "rw", "stats")
    assert "(uring, in effect rw, 2 workers" in sv.table(v)


def test_table_has_a_row_per_check_with_its_result():
    run = healthy()
    run["samples"][-1]["workers"][1]["counters"]["resets"] = 4
    v, _ = judge(run)
    lines = sv.table(v).splitlines()
    assert lines[1].startswith("soak verdict: FAIL  (")
    rows = {l[:38].strip(): l[38:46].strip() for l in lines[5:] if l}
    assert rows["no resets or failed connects (proxy)"] == "FAIL"
    assert rows["throughput never stalled"] == "PASS"
    assert len(rows) == len(NAMES)


def test_numbers_print_as_jq_printed_them():
    assert sv.txt(4.0) == "4" and sv.txt(4.25) == "4.25" and sv.txt(None) == "null" and sv.txt(True) == "true"
    assert sv.jround(2.5) == 3 and sv.jround(-2.5) == -3 and sv.jround(0.49) == 0  # not Python's banker's rounding
    assert sv.mb(1_234_567) == 1.2 and sv.mib(1048576 * 4.56) == 4.6


def test_the_inputs_are_not_modified():
    run = healthy()
    before = copy.deepcopy(run)
    judge(run)
    assert run == before


def test_the_machines_tcp_memory_is_reported_not_judged():
    run = healthy()
    assert judge(run)[0]["summary"]["host_tcp_memory"] is None  # an older proxy: no figures
    for i, smp in enumerate(run["samples"]):
        smp["process"]["host_tcp_memory_bytes"] = 1_000_000 + 4096 * i
        smp["process"]["host_tcp_under_pressure"] = 1 if i in (3, 4) else 0
    run["samples"][-1]["process"]["host_tcp_memory_bytes"] = 900_000  # the final sample, after the drain
    v, _ = judge(run)
    assert v["ok"] is True
    assert v["summary"]["host_tcp_memory"] == {
        "start_bytes": 1_000_000, "end_bytes": 900_000, "peak_bytes": 1_000_000 + 4096 * 39,
        "growth_bytes": -100_000, "pressure_samples": 2, "samples": 40}
    assert ("machine (not judged): kernel TCP memory 1.0 MB at the start, 0.9 MB at the end, peak 1.2 MB; "
            "under pressure in 2 of 40 samples") in sv.table(v)
    assert "machine (not judged)" not in sv.table(judge(healthy())[0])

