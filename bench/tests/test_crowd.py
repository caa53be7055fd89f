"""The crowd run's table: a run that did not finish is shown as such, never as 0 stalled."""
from spbench.crowd import table


def run(mode, stalled, messages=2000, errors=0):
    return {"mode": mode, "messages": messages, "errors": errors, "stalled": stalled, "longest_gap_s": 1.0,
            "wall_s": 10.0, "peak_tcp_mib": 1900.0, "peak_proxy_rss_mib": 8.0,
            "kernel": {"TcpExtTCPRcvQDrop": 5, "TcpExtTCPMemoryPressures": 1}}


def row(lines, mode):
    return next(line for line in lines if line.startswith(f"| {mode} |")).split(" | ")


def test_an_unfinished_run_is_counted_apart():
    runs = [run("rw", 0), run("sockmap", None, messages=None, errors=None), run("sockmap", 0)]
    lines = table(runs, ["rw", "sockmap"])
    assert lines[0].split(" | ")[2] == "unfinished"
    assert row(lines, "sockmap")[2] == "**1**"
    assert row(lines, "rw")[2] == "0"


def test_stalls_are_the_maximum_over_the_runs():
    lines = table([run("auto", 19), run("auto", 86), run("auto", 6)], ["auto"])
    assert row(lines, "auto")[3] == "86"


def test_an_unfinished_runs_gap_is_left_out_and_medians_are_rounded():
    hung = dict(run("direct", None, messages=None, errors=None), longest_gap_s=0)  # killed: no gap measured
    runs = [dict(run("direct", 0), longest_gap_s=3.18), dict(run("direct", 0), longest_gap_s=3.1799999), hung,
            dict(run("direct", 0), longest_gap_s=3.3)]
    assert row(table(runs, ["direct"]), "direct")[5] == "3.18"
    assert row(table([hung], ["direct"]), "direct")[5] == "–"


def test_runs_with_a_stall_are_counted_among_the_finished_ones():
    runs = [run("uring", 0), run("uring", 2), run("uring", 6), run("uring", None, messages=None, errors=None)]
    assert row(table(runs, ["uring"]), "uring")[4] == "2 of 3"
    assert row(table([run("direct", 0)], ["direct"]), "direct")[4] == "0 of 1"


def test_the_rtos_are_the_median_of_the_runs():
    runs = [dict(run("rw", 0), kernel={"TcpExtTCPRcvQDrop": 1, "TcpExtTCPMemoryPressures": 1, "TcpExtTCPTimeouts": t})
            for t in (130, 7049, 800)]
    lines = table(runs, ["rw"])
    assert lines[0].split(" | ")[10] == "RTOs"
    assert row(lines, "rw")[10] == "800"


def test_direct_runs_first_once_and_the_compare_flag_goes_to_our_modes_only():
    from spbench.crowd import run_order
    assert run_order("rw,direct,haproxy") == ["direct", "rw", "haproxy"]
    assert run_order("uring,haproxy-splice", "--uring-features=all") == [
        "direct", "uring", "haproxy-splice", "uring --uring-features=all"]
