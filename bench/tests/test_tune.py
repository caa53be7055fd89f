"""bench/tune's settings and its recommendation rule."""

import types

import pytest

from spbench import tune
from spbench.util import BadArgs


def test_size_flags_per_mode():
    assert tune.Setting("rw", 1, False, False, "round-robin", 16384).flags([0]) == \
        ["--mode", "rw", "-w", "1", "--buffer-size", "16K"]
    assert tune.Setting("splice", 2, False, True, "round-robin", 1 << 20).flags([0, 1]) == \
        ["--mode", "splice", "-w", "2", "--pipe-size", "1M", "--reuseport"]
    auto = tune.Setting("auto", 1, False, False, "round-robin", 65536).flags([0])
    assert auto[auto.index("--buffer-size") + 1] == "64K" and auto[auto.index("--pipe-size") + 1] == "64K"
    assert "--buffer-size" not in tune.Setting("rw", 1, False, False, "round-robin").flags([0])


def test_sizes_argument():
    assert tune.parse_sizes("default,64K,1M,64K") == [None, 65536, 1 << 20]
    with pytest.raises(BadArgs):
        tune.parse_sizes("64Q")


def test_plan_crosses_sizes_with_the_rest():
    a = types.SimpleNamespace(modes=["rw", "splice"], workers=[1, 2], pin=[False], accept=[False],
                              balance=["round-robin"], sizes=[None, 65536])
    settings = tune.plan(a)
    assert len(settings) == 8 and len({s.key for s in settings}) == 8


def agg(mode, workers, tp, cpg, size=None):
    return {"setting": tune.Setting(mode, workers, False, False, "round-robin", size), "n": 2,
            "tp": tp, "tp_min": tp, "tp_max": tp, "cpg": cpg, "cpg_min": cpg, "cpg_max": cpg}


def test_recommend_fastest_then_cheapest_then_fewest_workers():
    aggs = [agg("rw", 1, 100.0, 0.50), agg("rw", 1, 98.0, 0.30, size=1 << 20), agg("splice", 2, 101.0, 0.30),
            agg("splice", 1, 60.0, 0.10)]
    rec = tune.recommend(aggs, 0.05)
    # 100, 98 and 101 are tied within 5 %; 0.30 is the cheapest of those (two of them); one worker wins
    assert rec["pick"]["setting"].key == ("rw", 1, False, False, "round-robin", 1 << 20)
    assert {a["setting"].workers for a in rec["cheap"]} == {1, 2}


def test_modes_without_a_size_knob_run_their_default_only():
    a = types.SimpleNamespace(modes=["rw", "sockmap", "uring"], workers=[1], pin=[False], accept=[False],
                              balance=["round-robin"], sizes=[None, 65536])
    settings = tune.plan(a)
    assert [(s.mode, s.size) for s in settings] == [("rw", None), ("rw", 65536), ("sockmap", None), ("uring", None)]
    assert tune.Setting("sockmap", 1, False, False, "round-robin").flags([0]) == ["--mode", "sockmap", "-w", "1"]


def test_the_command_line_takes_every_mode_of_the_core():
    from spcore.modes import MODES
    from spbench.tune import cli
    a = cli.parse_args(["--topology", "loopback", "--modes", ",".join(MODES), "--workers", "1,2", "--sizes", "default"])
    assert a.modes == list(MODES) and a.workers == [1, 2] and a.sizes == [None]
    with pytest.raises(SystemExit):
        cli.parse_args(["--topology", "loopback", "--modes", "rw,bogus"])
