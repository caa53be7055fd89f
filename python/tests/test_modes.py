"""spcore.modes: the modes the tools know, and those a proxy binary offers (from its -h)."""

import stat

import pytest

from spcore.modes import FIXED, MODES, ModesUnknown, modes_of, parse_modes

PROXY_HELP = """usage: proxy [options]
options:
  -z, --splice                use the splice pump (same as --mode splice)
      --mode rw|splice|auto   how bytes move: read/write through a user buffer, splice, or auto (default: rw)
  -w, --workers N             worker threads (default: online CPUs (2))
"""


def test_the_mode_list_has_every_mode_sockmap_included():
    assert MODES == ("rw", "splice", "auto", "uring", "sockmap")
    assert set(FIXED) <= set(MODES)


def test_modes_come_from_the_proxy_help_so_new_ones_join():
    assert parse_modes(PROXY_HELP) == ["rw", "splice", "auto"]
    future = PROXY_HELP.replace("rw|splice|auto", "rw|splice|auto|uring|sockmap")
    assert parse_modes(future) == ["rw", "splice", "auto", "uring", "sockmap"]
    with pytest.raises(ModesUnknown):
        parse_modes("usage: proxy\n  -z, --splice   use the splice pump (same as --mode splice)\n")


def test_modes_of_runs_the_binary(tmp_path):
    fake = tmp_path / "proxy"
    fake.write_text("#!/bin/sh\ncat <<'EOF'\n" + PROXY_HELP.replace("auto", "auto|uring") + "EOF\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    assert modes_of(str(fake)) == ["rw", "splice", "auto", "uring"]
    with pytest.raises(ModesUnknown):
        modes_of(str(tmp_path / "missing"))


