"""The proxy's pump modes: the list the tools know, and the list a given proxy binary offers (read
from its own `-h`, so that a mode added to the proxy joins the demo and the soak runner without
editing them)."""

import re
import subprocess

# Every --mode of the proxy, in the order the tools show them.
MODES = ("rw", "splice", "auto", "uring", "sockmap")
# The modes with one fixed way of moving bytes that has a size knob; auto chooses between them.
FIXED = ("rw", "splice")

# The mode line of `proxy -h`: "      --mode rw|splice|auto   how bytes move: ..."
_MODE_LINE = re.compile(r"^\s*(?:-\w,\s*)?--mode[ =]([a-z0-9_-]+(?:\|[a-z0-9_-]+)+)(?:\s|$)", re.M)


class ModesUnknown(Exception):
    pass


def parse_modes(help_text):
    """The modes listed in the --mode line of `proxy -h`, in their order."""
    m = _MODE_LINE.search(help_text)
    if not m:
        raise ModesUnknown("no '--mode a|b|...' line in the proxy's -h")
    return m.group(1).split("|")


def modes_of(proxy_bin, timeout=10):
    """Runs `proxy_bin -h` and returns its modes (raises ModesUnknown when it cannot)."""
    try:
        r = subprocess.run([proxy_bin, "-h"], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ModesUnknown(f"cannot run {proxy_bin} -h: {e}")
    return parse_modes(r.stdout + r.stderr)
