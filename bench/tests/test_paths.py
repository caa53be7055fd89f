"""The path table: names, sized variants, the flags and HAProxy configs they make."""

import pytest

from spbench import paths as P
from spbench.util import BadArgs


def test_sized_variant_of_ours_sets_its_knob():
    assert P.proxy_flags("proxy-rw@16K") == ["--mode", "rw", "--buffer-size", str(16 * 1024)]
    assert P.proxy_flags("proxy-splice@1M") == ["--mode", "splice", "--pipe-size", str(1 << 20)]
    assert P.proxy_flags("proxy-splice") == ["--mode", "splice"]


def test_sized_variant_keeps_peer_and_rw_at_the_same_size():
    p = P.get("proxy-splice@256K")
    assert p.base == "proxy-splice" and p.size == 256 * 1024
    assert p.peer == "haproxy-splice@256K" and p.rw_of == "proxy-rw@256K"
    assert P.get("proxy-rw@256K").peer == "haproxy@256K"


def test_haproxy_size_knobs_in_global():
    cfg = P.haproxy_config("haproxy@64K", 1, "127.0.0.1", 1, "127.0.0.1", 2, None)
    assert "    tune.bufsize 65536" in cfg.splitlines()
    assert "splice" not in cfg
    cfg = P.haproxy_config("haproxy-splice@1M", 1, "127.0.0.1", 1, "127.0.0.1", 2, None)
    assert "    tune.pipesize 1048576" in cfg.splitlines()
    assert "    option splice-response" in cfg.splitlines()
    assert "tune." not in P.haproxy_config("haproxy", 1, "127.0.0.1", 1, "127.0.0.1", 2, None)


def test_busy_poll_flag_and_global():
    assert P.proxy_flags("proxy-rw-busy", busy_poll=30) == ["--mode", "rw", "--busy-poll", "30"]
    assert "    busy-polling" in P.haproxy_config("haproxy-busy", 2, "h", 1, "b", 2, "0-1").splitlines()


def test_unknown_and_unsizable_names_are_refused():
    with pytest.raises(BadArgs):
        P.get("proxy-quantum")
    with pytest.raises(BadArgs):
        P.get("proxy-auto@16K")  # auto has no single knob
    with pytest.raises(BadArgs):
        P.get("proxy-rw@16Q")


def test_order_puts_sizes_after_their_path_smallest_first():
    names = ["haproxy", "proxy-rw@1M", "direct", "proxy-rw", "proxy-rw@16K", "proxy-splice"]
    assert sorted(names, key=P.sort_key) == ["direct", "proxy-rw", "proxy-rw@16K", "proxy-rw@1M",
                                             "proxy-splice", "haproxy"]


def test_defaults_leave_the_opt_in_paths_out():
    assert "proxy-rw-busy" not in P.DEFAULT and "proxy-rw-busy" in P.NAMES
    assert set(P.SIZABLE) == {"proxy-rw", "proxy-splice", "haproxy", "haproxy-splice"}


def test_our_paths_are_the_modes_of_the_core():
    from spcore.modes import MODES
    assert {p.mode for p in P.BASE if p.kind == "ours"} == set(MODES)
