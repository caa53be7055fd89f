"""Issue 9's and issue 17's goals: paired ratios, their medians, met / missed / not measured."""

import pytest

from spbench import goals
from spbench.aggregate import aggregate, best_settings
from helpers import run


def unit(_):
    return "gbit_per_s"


def fair(runs, workloads=("iperf3-P1",), sweep=("iperf3-P1",)):
    aggs = aggregate(runs)
    cfg = {"workloads": list(workloads), "size_sweep_workloads": list(sweep)}
    res = goals.evaluate_fair(runs, aggs, best_settings(aggs), cfg)
    return {(r["goal"], r["setting"], r["ours"] and r["ours"].partition("@")[0], r["workload"]): r for r in res}


def test_paired_ratios_pair_by_repetition():
    runs = [run("proxy-rw", "iperf3-P1", 1, tp=12.0), run("haproxy", "iperf3-P1", 1, tp=10.0),
            run("proxy-rw", "iperf3-P1", 2, tp=30.0), run("haproxy", "iperf3-P1", 2, tp=20.0),
            run("proxy-rw", "iperf3-P1", 3, tp=99.0)]  # no peer in rep 3: not paired
    assert goals.paired_ratios(runs, "iperf3-P1", 1, "proxy-rw", "haproxy", "throughput", "gbit_per_s") == [1.2, 1.5]


def test_judge_median_and_direction():
    r = goals.judge({"op": ">=", "target": 1.2}, [1.0, 1.3, 1.25])
    assert r["median"] == 1.25 and r["met"] is True
    r = goals.judge({"op": "<=", "target": 0.8}, [0.7, 0.9, 0.85])
    assert r["met"] is False
    assert goals.judge({"op": ">=", "target": 1}, [])["met"] is None


def test_issue9_goal_not_measured_without_its_workload():
    res = goals.evaluate([run("proxy-rw", "iperf3-P1", 1, tp=12.0, cpu=0.5),
                          run("haproxy", "iperf3-P1", 1, tp=10.0, cpu=1.0)], unit)
    by = {(r["goal"], r["ours"]): r for r in res}
    assert by[("bulk-1-stream", "proxy-rw")]["met"] is True
    assert by[("cpu-per-byte", "proxy-rw")]["median"] == 0.5
    assert by[("bulk-4-streams", "proxy-rw")]["met"] is None
    assert not any(r["ours"] == "proxy-splice" for r in res)


def test_bulk17_defaults_and_best_settings_with_machine_cpu():
    runs = []
    for rep in (1, 2, 3):
        runs += [run("proxy-rw", "iperf3-P1", rep, tp=13.0, cpu=0.50, machine=0.85),
                 run("haproxy", "iperf3-P1", rep, tp=10.0, cpu=0.40, machine=0.80),
                 run("proxy-rw@1M", "iperf3-P1", rep, tp=19.0, cpu=0.25, machine=0.67),
                 run("proxy-rw@16K", "iperf3-P1", rep, tp=12.0, cpu=0.46, machine=0.70),
                 run("haproxy@1M", "iperf3-P1", rep, tp=15.0, cpu=0.30, machine=0.60),
                 run("haproxy@16K", "iperf3-P1", rep, tp=14.0, cpu=0.35, machine=0.78)]
    g = fair(runs)
    d = g[("bulk17-throughput", "defaults", "proxy-rw", "iperf3-P1")]
    assert d["median"] == pytest.approx(1.3) and d["met"] is True
    assert g[("bulk17-proxy-cpu", "defaults", "proxy-rw", "iperf3-P1")]["met"] is False  # 1.25x
    assert g[("bulk17-machine-cpu", "defaults", "proxy-rw", "iperf3-P1")]["met"] is False  # 0.85 > 0.80
    b = g[("bulk17-throughput", "best", "proxy-rw", "iperf3-P1")]
    assert (b["ours"], b["peer"]) == ("proxy-rw@1M", "haproxy@1M")
    assert b["median"] == pytest.approx(19 / 15) and b["met"] is True
    m = g[("bulk17-machine-cpu", "best", "proxy-rw", "iperf3-P1")]
    assert (m["ours"], m["peer"]) == ("proxy-rw@1M", "haproxy@1M")  # 0.67 vs 0.60: each at its cheapest
    assert m["met"] is False
    # splice ran nowhere: no row for it at all
    assert not any(k[2] == "proxy-splice" for k in g)


def test_default_within_five_percent_of_best():
    runs = []
    for rep in (1, 2, 3):
        runs += [run("proxy-splice", "iperf3-P1", rep, tp=16.2, cpu=0.21),
                 run("proxy-splice@64K", "iperf3-P1", rep, tp=12.4, cpu=0.44),
                 run("proxy-splice@1M", "iperf3-P1", rep, tp=16.0, cpu=0.20),
                 run("proxy-rw", "iperf3-P1", rep, tp=13.1, cpu=0.49),
                 run("proxy-rw@1M", "iperf3-P1", rep, tp=19.1, cpu=0.25)]
    g = fair(runs)
    assert g[("default-vs-best-throughput", "defaults", "proxy-splice", "iperf3-P1")]["met"] is True
    assert g[("default-vs-best-cpu", "defaults", "proxy-splice", "iperf3-P1")]["met"] is True  # 1.05x
    assert g[("default-vs-best-throughput", "defaults", "proxy-rw", "iperf3-P1")]["met"] is False
    assert g[("default-vs-best-cpu", "defaults", "proxy-rw", "iperf3-P1")]["median"] == pytest.approx(1.96)


def test_auto_against_the_better_fixed_mode_on_every_workload():
    runs = []
    for rep in (1, 2, 3):
        runs += [run("proxy-auto", "iperf3-P1", rep, tp=14.5), run("proxy-rw", "iperf3-P1", rep, tp=13.1),
                 run("proxy-splice", "iperf3-P1", rep, tp=16.2), run("proxy-rw@1M", "iperf3-P1", rep, tp=19.1),
                 run("proxy-splice@1M", "iperf3-P1", rep, tp=16.0),
                 run("proxy-auto", "pp-1k-1c", rep, tp=930.0, unit="msg_per_s"),
                 run("proxy-rw", "pp-1k-1c", rep, tp=1000.0, unit="msg_per_s"),
                 run("proxy-splice", "pp-1k-1c", rep, tp=900.0, unit="msg_per_s")]
    g = fair(runs, workloads=("iperf3-P1", "pp-1k-1c"))
    d = g[("auto-vs-better-fixed", "defaults", "proxy-auto", "iperf3-P1")]
    assert d["peer"] == "proxy-splice" and d["met"] is False  # 14.5 / 16.2
    b = g[("auto-vs-better-fixed", "best", "proxy-auto", "iperf3-P1")]
    assert b["peer"] == "proxy-rw@1M" and b["median"] == pytest.approx(14.5 / 19.1)
    p = g[("auto-vs-better-fixed", "defaults", "proxy-auto", "pp-1k-1c")]
    assert p["peer"] == "proxy-rw" and p["median"] == pytest.approx(0.93) and p["met"] is False
    assert ("auto-vs-better-fixed", "best", "proxy-auto", "pp-1k-1c") not in g  # not swept


def test_markdown_says_not_measured_never_met():
    runs = [run("proxy-rw", "iperf3-P1", 1, tp=13.0, cpu=0.5, machine=0.8)]
    aggs = aggregate(runs)
    res = goals.evaluate_fair(runs, aggs, best_settings(aggs), {"workloads": ["iperf3-P1"], "size_sweep_workloads": []})
    text = "\n".join(goals.markdown_fair(res))
    assert "**met**" not in text and "not measured" in text
    assert "machine CPU-s/GB" in text and "not measured here" in text


def test_uring_goals_judge_against_haproxy_and_our_best_read_write():
    runs = []
    for rep in (1, 2, 3):
        runs += [run("proxy-uring", "pp-1k-64c", rep, tp=84.0), run("proxy-rw", "pp-1k-64c", rep, tp=74.0),
                 run("haproxy", "pp-1k-64c", rep, tp=60.0),
                 run("proxy-uring", "iperf3-P1", rep, tp=22.0, cpu=0.19, machine=0.60),
                 run("proxy-rw", "iperf3-P1", rep, tp=21.0, cpu=0.20, machine=0.58),
                 run("proxy-rw@1M", "iperf3-P1", rep, tp=24.0, cpu=0.18, machine=0.55),
                 run("proxy-rw@16K", "iperf3-P1", rep, tp=12.0, cpu=0.46, machine=0.70)]
    aggs = aggregate(runs)
    res = goals.evaluate(runs, unit, goals.uring_goals(best_settings(aggs)))
    by = {r["goal"]: r for r in res}
    assert by["uring-pp64-haproxy"]["median"] == pytest.approx(1.4) and by["uring-pp64-haproxy"]["met"] is True
    assert by["uring-pp64-rw"]["median"] == pytest.approx(84 / 74) and by["uring-pp64-rw"]["met"] is False
    bulk = by["uring-bulk"]
    assert bulk["peer"] == "proxy-rw@1M", "bulk is judged against read/write at its best size"
    assert bulk["median"] == pytest.approx(22 / 24) and bulk["met"] is False
    assert by["uring-bulk-cpu"]["met"] is False and by["uring-bulk-machine-cpu"]["peer"] == "proxy-rw@1M"
    assert by["uring-redis-set"]["met"] is None, "a workload the run did not include is not measured"
    assert "Issue 14 goals" in "\n".join(goals.markdown(res, "Issue 14 goals: --mode uring"))


def test_sockmap_goals_judge_bulk_against_our_best_splice_on_machine_cpu():
    runs = []
    for rep in (1, 2, 3):
        runs += [run("proxy-sockmap", "pp-1k-1c", rep, tp=20.0), run("proxy-rw", "pp-1k-1c", rep, tp=15.0),
                 run("proxy-sockmap", "iperf3-P1", rep, tp=12.0, cpu=0.01, machine=0.90),
                 run("proxy-splice", "iperf3-P1", rep, tp=18.0, cpu=0.30, machine=0.70),
                 run("proxy-splice@256K", "iperf3-P1", rep, tp=21.0, cpu=0.25, machine=0.60)]
    aggs = aggregate(runs)
    res = goals.evaluate(runs, unit, goals.sockmap_goals(best_settings(aggs)))
    by = {r["goal"]: r for r in res}
    assert by["sockmap-pp1-rw"]["median"] == pytest.approx(20 / 15) and by["sockmap-pp1-rw"]["met"] is True
    bulk = by["sockmap-bulk"]
    assert bulk["peer"] == "proxy-splice@256K", "bulk is judged against splice at its best size"
    assert bulk["median"] == pytest.approx(12 / 21) and bulk["met"] is False
    machine = by["sockmap-bulk-machine-cpu"]
    assert machine["median"] == pytest.approx(0.90 / 0.60) and machine["met"] is False, \
        "a near-zero proxy CPU must not hide the machine's cost"
    assert by["sockmap-pp64-rw"]["met"] is None
    assert by["sockmap-bulk-echo"]["met"] is None, "a workload the run did not include is not measured"


def test_sockmap_goals_are_issue_21s_targets():
    targets = {g[0]: g[7] for g in goals.sockmap_goals({})}
    assert targets == {"sockmap-pp1-rw": 1.1, "sockmap-pp64-rw": 1.1, "sockmap-bulk": 0.9,
                       "sockmap-bulk-echo": 0.9, "sockmap-bulk-machine-cpu": 1.0}


def test_failed_runs_of_ours_miss_the_goal_and_are_named():
    runs = []
    for rep in (1, 2, 3):
        runs += [run("proxy-sockmap", "pp-1k-1c", rep, tp=20.0), run("proxy-rw", "pp-1k-1c", rep, tp=15.0),
                 run("proxy-sockmap", "iperf3-P1", rep, status="failed"),
                 run("proxy-splice", "iperf3-P1", rep, tp=18.0, cpu=0.30, machine=0.70)]
    # one more ping-pong repetition whose sockmap run failed: the other three still pair
    runs += [run("proxy-sockmap", "pp-1k-1c", 4, status="failed"), run("proxy-rw", "pp-1k-1c", 4, tp=15.0)]
    aggs = aggregate(runs)
    res = goals.evaluate(runs, unit, goals.sockmap_goals(best_settings(aggs)))
    by = {r["goal"]: r for r in res}
    bulk = by["sockmap-bulk"]
    assert bulk["median"] is None and bulk["failed_runs"] == 3 and bulk["met"] is False, \
        "every run reset: missed, not 'not measured'"
    pp = by["sockmap-pp1-rw"]
    assert pp["median"] == pytest.approx(20 / 15) and pp["failed_runs"] == 1 and pp["met"] is False, \
        "one failed repetition misses a goal the others would meet"
    assert by["sockmap-pp64-rw"]["met"] is None and by["sockmap-pp64-rw"]["failed_runs"] == 0
    text = "\n".join(goals.markdown(res, "Issue 15 goals"))
    assert "**missed** (3 runs of proxy-sockmap failed)" in text
    assert "1.33× [1.33–1.33] **missed** (1 run of proxy-sockmap failed)" in text
    assert "2 of 3 measured goal checks met" not in text and "0 of 3 measured goal checks met" in text
