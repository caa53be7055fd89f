"""spcore.stats: one framing over TCP and unix sockets -- one command line, a half-close, the reply
read up to its first newline -- checked against tiny local servers."""

import json
import os
import socket
import tempfile
import time

import pytest

from spcore import stats
from spcore.fakes import FakeStatsServer as Server
from spcore.net import free_ports, port_open

SNAP = {"version": 1, "program": "proxy", "pid": 42, "totals": {"bytes": 123}}


@pytest.fixture(params=["tcp", "unix"])
def family(request):
    return socket.AF_INET if request.param == "tcp" else socket.AF_UNIX


def test_one_command_line_then_half_close_then_one_json_line(family):
    srv = Server(family, lambda cmd: (json.dumps(SNAP) + "\n").encode())
    try:
        assert stats.query(*srv.addr, timeout=2) == SNAP
        assert srv.got == [b"stats\n"] and srv.eof == [True]
    finally:
        srv.close()


def test_a_reply_in_pieces_is_read_to_its_newline_and_what_follows_is_not_taken(family):
    line = (json.dumps(SNAP) + "\n" + json.dumps({"version": 1, "next": True}) + "\n").encode()
    srv = Server(family, lambda cmd: line, pieces=5, delay=0.01)
    try:
        assert stats.query(*srv.addr, timeout=2) == SNAP
    finally:
        srv.close()


def test_other_commands_and_their_raw_line(family):
    srv = Server(family, lambda cmd: b'{"echo": "' + cmd.strip() + b'"}\n')
    try:
        assert stats.request_line(*srv.addr, command="schema", timeout=2) == b'{"echo": "schema"}'
    finally:
        srv.close()


def test_a_reply_closed_without_newline_still_counts(family):
    srv = Server(family, lambda cmd: json.dumps(SNAP).encode())
    try:
        assert stats.query(*srv.addr, timeout=2) == SNAP
    finally:
        srv.close()


@pytest.mark.parametrize("reply", [b"not json\n", b"[1, 2]\n", b'{"no": "version"}\n', b""])
def test_what_is_not_a_snapshot_is_none(family, reply):
    srv = Server(family, lambda cmd: reply)
    try:
        assert stats.query(*srv.addr, timeout=2) is None
    finally:
        srv.close()


def test_no_answer_in_time_is_none(family):
    srv = Server(family, lambda cmd: (json.dumps(SNAP) + "\n").encode(), delay=1.0)
    try:
        t0 = time.monotonic()
        assert stats.query(*srv.addr, timeout=0.3) is None
        assert time.monotonic() - t0 < 0.9
    finally:
        srv.close()


def test_nobody_listening_is_none():
    assert stats.query("127.0.0.1", free_ports(1)[0], timeout=1) is None
    assert stats.query("unix", os.path.join(tempfile.mkdtemp(), "none.sock"), timeout=1) is None


def test_addresses():
    assert stats.parse_address("unix:/run/p.sock") == ("unix", "/run/p.sock")
    assert stats.parse_address("127.0.0.1:9997") == ("127.0.0.1", 9997)
    assert stats.parse_address("[::1]:9997") == ("::1", 9997)


def test_port_open_and_free_ports():
    srv = Server(socket.AF_INET, lambda cmd: b"")
    try:
        assert port_open(*srv.addr)
    finally:
        srv.close()
    ports = free_ports(3)
    assert len(set(ports)) == 3
    assert not port_open("127.0.0.1", ports[0], timeout=0.5)


def test_worker_counters_are_summed_over_the_workers():
    snap = {"workers": [{"counters": {"bytes_in": 3, "resets": 1, "name": "x"}},
                        {"counters": {"bytes_in": 4, "sockmap_moved_bytes": 2}}, {}]}
    assert stats.worker_counters(snap) == {"bytes_in": 7, "resets": 1, "sockmap_moved_bytes": 2}
    assert stats.worker_counters(None) == {} and stats.worker_counters({}) == {}
