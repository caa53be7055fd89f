"""Small helpers every bench tool shares: logging, files, command output, list and size arguments."""

import datetime
import os
import re
import subprocess
import sys

PKG = os.path.dirname(os.path.abspath(__file__))
HERE = os.path.dirname(PKG)  # bench/
REPO = os.path.dirname(HERE)
NCPU = os.cpu_count() or 1
GB = 1e9  # CPU-s/GB uses decimal gigabytes


class BadArgs(Exception):
    """A command-line value that cannot be used: the caller prints it with its usage, exit 2."""


def log(msg):
    print(msg, flush=True)


def now_iso():
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def read1(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cmd_out(argv, timeout=10):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return (r.stdout + r.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"


def fmt_s(x):
    return "%g" % x


def parse_list(s, valid=None, what="item"):
    items = [x.strip() for x in s.split(",") if x.strip()]
    if valid is not None:
        bad = [x for x in items if x not in valid]
        if bad:
            raise BadArgs(f"unknown {what}: {', '.join(bad)} (known: {', '.join(valid)})")
    return list(dict.fromkeys(items))


def parse_workers(s, ncpu=NCPU):
    """'1..4', '1-4', '1,2,4', '1..N' (N = ncpu)."""
    out = []
    for part in s.split(","):
        part = part.strip().replace("N", str(ncpu))
        m = re.fullmatch(r"(\d+)\s*(?:\.\.|-)\s*(\d+)", part)
        if m:
            out += range(int(m.group(1)), int(m.group(2)) + 1)
        elif part.isdigit():
            out.append(int(part))
        elif part:
            raise BadArgs(f"bad worker list '{s}' (e.g. 1..4, 1,2,4 or 1..N)")
    out = sorted(set(n for n in out if n > 0))
    if not out:
        raise BadArgs(f"worker list '{s}' is empty")
    return out


SIZE_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}


def parse_size(s):
    """'16K', '1M', '65536' -> bytes (binary units, as the proxy's --buffer-size takes them)."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", str(s), re.I)
    if not m or int(m.group(1)) <= 0:
        raise BadArgs(f"bad size '{s}' (e.g. 16K, 1M, 65536)")
    return int(m.group(1)) * SIZE_UNITS[m.group(2).upper()]


def fmt_size(n):
    for unit in ("G", "M", "K"):
        if n % SIZE_UNITS[unit] == 0:
            return f"{n // SIZE_UNITS[unit]}{unit}"
    return str(n)


def parse_or_exit(ap, argv, check):
    """argparse, then check(args): a BadArgs from it prints the usage and the reason, exit 2."""
    a = ap.parse_args(argv)
    try:
        check(a)
    except BadArgs as e:
        ap.print_usage(sys.stderr)
        print(f"{ap.prog}: {e}", file=sys.stderr)
        sys.exit(2)
    return a
