"""report.md from synthetic runs: the sections issue 17 asks for are there, with the figures."""

from spbench import goals
from spbench.aggregate import aggregate, best_settings, primary_unit
from spbench.report import write_report
from helpers import run


def meta(paths, workloads, sweep):
    return {"started_at": "2026-12-01T07:00:00+00:00", "finished_at": "2026-12-01T07:30:00+00:00",
            "command": ["bench/run.sh"],
            "config": {"reps": 2, "duration": 4, "warmup": 1, "main_workers": 1, "paths": paths,
                       "workloads": workloads, "sweep_workloads": [], "size_sweep_workloads": sweep},
            "machine": {"hostname": "vm", "cpu_model": "Test CPU 9000", "cores": 2, "kernel": "6.18",
                        "sysctl": {}, "versions": {"haproxy": "HAProxy version 2.6.12"},
                        "proxy_defaults": {"buffer_size": "1M", "pipe_size": "1M"}}}


def test_report_has_cpu_model_machine_cpu_size_sweep_goals_and_real_clients(tmp_path):
    runs = []
    for rep in (1, 2):
        for p, tp, cpu, mach in (("direct", 25.0, None, 0.5), ("proxy-rw", 13.0, 0.49, 0.85),
                                 ("haproxy", 14.6, 0.40, 0.78), ("proxy-rw@1M", 19.1, 0.25, 0.67),
                                 ("proxy-rw@16K", 13.5, 0.46, 0.79), ("haproxy@1M", 15.0, 0.3, 0.7)):
            runs.append(run(p, "iperf3-P1", rep, tp=tp, cpu=cpu, machine=mach))
        for p, rps in (("direct", 90000.0), ("proxy-rw", 60000.0), ("haproxy", 61000.0)):
            r = run(p, "redis-set", rep, tp=rps, unit="msg_per_s")
            r["metrics"].update(bytes_oneway=None, cpu_us_per_request=9.5 if p != "direct" else None,
                                machine_cpu_us_per_request=50.0)
            runs.append(r)
    for i, r in enumerate(runs):
        r["seq"] = i + 1
    m = meta(["direct", "proxy-rw", "haproxy"], ["iperf3-P1", "redis-set"], ["iperf3-P1"])
    aggs = aggregate(runs)
    bests = best_settings(aggs)
    fair = goals.evaluate_fair(runs, aggs, bests, m["config"])
    write_report(str(tmp_path), m, runs, aggs, [], False, goals.evaluate(runs, primary_unit), bests, fair)
    text = (tmp_path / "report.md").read_text()
    assert "**Test CPU 9000**" in text
    assert "iperf3-P1 proxy CPU-s/GB | iperf3-P1 machine CPU-s/GB" in text
    assert "| proxy-rw | 13.00 |" in text and "| 0.49 | 0.85 |" in text
    assert "| ↳ proxy-rw best swept | 19.10 (1M) |" in text
    assert "## Size sweep" in text and "**19.10 [19.10–19.10]** · 0.25 · 0.67" in text
    # goal tables are titled by what they check; the issue number is small print only
    assert "## Every path at its defaults and at its best size" in text and "<sub>Goals of issue 17.</sub>" in text
    assert "## Against HAProxy in the same mode" in text
    assert "## Issue" not in text
    assert "what does the relay cost the box?" in text
    assert "| iperf3-P1 | 0.89× [0.89–0.89] **missed** | 1.27× [1.27–1.27] **met** (proxy-rw@1M vs haproxy@1M) |" in text
    assert "## Real clients" in text and "| proxy-rw | 60,000 | 9.5 | 50.0 |" in text
    assert "--buffer-size 1M" in text


def test_headline_says_how_much_the_kernel_relayed_on_the_sockmap_path():
    from spbench.report import headline
    runs = []
    for rep, moved in ((1, 180), (2, 190)):
        r = run("proxy-sockmap", "iperf3-P1", rep, tp=10.0, cpu=0.3, machine=0.8)
        r["metrics"]["proxy_counters"] = {"bytes_in": 100, "bytes_out": 100, "sockmap_moved_bytes": moved}
        runs.append(r)
        rw = run("proxy-rw", "iperf3-P1", rep, tp=12.0, cpu=0.4, machine=0.9)
        rw["metrics"]["proxy_counters"] = {"bytes_in": 100, "bytes_out": 100, "sockmap_moved_bytes": 0}  # counted, 0
        runs.append(rw)
    cfg = meta(["proxy-rw", "proxy-sockmap"], ["iperf3-P1"], [])["config"]
    text = "\n".join(headline(cfg, aggregate(runs), [], 1))
    assert "`proxy-sockmap`: the kernel relayed iperf3-P1 8 % [5–10] of the bytes" in text
    assert "`proxy-rw`: the kernel relayed" not in text


def test_a_sockmap_run_whose_sessions_went_to_splice_is_suspicious(tmp_path):
    runs = []
    for rep in (1, 2):
        r = run("proxy-sockmap", "iperf3-P1", rep, tp=10.0, cpu=0.3, machine=0.8)
        r["metrics"]["proxy_counters"] = {"bytes_in": 100, "bytes_out": 0, "sockmap_moved_bytes": 0,
                                          "sockmap_declined": rep - 1}
        r["seq"] = rep
        runs.append(r)
    m = meta(["proxy-sockmap"], ["iperf3-P1"], [])
    aggs = aggregate(runs)
    write_report(str(tmp_path), m, runs, aggs, [], False, goals.evaluate(runs, primary_unit), [], [])
    text = (tmp_path / "report.md").read_text()
    assert "proxy counters {'sockmap_declined': 1}" in text
    assert "the kernel relayed iperf3-P1 100 % [100–100]" in text  # the share of the run that used the kernel
