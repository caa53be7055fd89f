"""Facts about the machine a run measured on: the CPU model (the figures depend on it), kernel,
sysctls, tool versions, git state, and how busy the machine was with other work."""

import os
import platform
import re
import shutil
import socket
import subprocess
import time

from spcore.procfs import machine_cpu
from .util import NCPU, REPO, cmd_out, read1


def cpu_model(cpuinfo=None):
    """The CPU model from /proc/cpuinfo ("model name" on x86, "Model"/"Hardware"/"cpu model"
    elsewhere), with the count of each model when they differ; None if nothing says."""
    text = read1("/proc/cpuinfo") if cpuinfo is None else cpuinfo
    models = []
    for key in ("model name", "cpu model", "Model", "Hardware", "Processor"):
        models = [l.split(":", 1)[1].strip() for l in (text or "").splitlines()
                  if re.match(rf"{key}\s*:", l) and l.split(":", 1)[1].strip()]
        if models:
            break
    if not models:
        return None
    uniq = list(dict.fromkeys(models))
    if len(uniq) == 1:
        return uniq[0]
    return "; ".join(f"{models.count(m)}× {m}" for m in uniq)


def proxy_defaults(help_text):
    """The proxy's default size ceilings as its -h states them ("... (default: 1M)"), on the
    flag's line or a continuation line of its entry (-h wraps at 80 columns); not past the next
    flag's line, which starts with at most 6 spaces and a dash."""
    out = {}
    for flag in ("--buffer-size", "--pipe-size"):
        m = re.search(re.escape(flag) + r"\b(?:(?!\n {0,6}-)[\s\S])*?\(default: ([^)]+)\)", help_text or "")
        out[flag.strip("-").replace("-", "_")] = m.group(1).strip() if m else None
    return out


def background_busy(seconds=1.0):
    """Share of all cores busy while the bench runs nothing: other users of a shared machine."""
    a = machine_cpu()
    time.sleep(seconds)
    b = machine_cpu()
    busy = b["busy_s"] - a["busy_s"]
    return round(100.0 * busy / (seconds * NCPU), 1)


def machine_facts(bin_dir):
    model = cpu_model()
    mem = None
    for line in (read1("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal"):
            mem = line.split(":", 1)[1].strip()
    git = cmd_out(["git", "-C", REPO, "rev-parse", "HEAD"])
    try:
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        dirty = ""
    return {
        "hostname": socket.gethostname(),
        "kernel": platform.release(),
        "cpu_model": model,
        "cores": NCPU,
        "memory": mem,
        "loadavg_at_start": read1("/proc/loadavg"),
        "background_busy_pct_at_start": background_busy(),
        "virtualization": cmd_out(["systemd-detect-virt"]) if shutil.which("systemd-detect-virt") else None,
        "pipe_max_size": read1("/proc/sys/fs/pipe-max-size"),
        "sysctl": {k: read1("/proc/sys/" + k.replace(".", "/")) for k in (
            "net.core.rmem_max", "net.core.wmem_max", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
            "net.ipv4.tcp_congestion_control", "net.core.somaxconn")},
        "cpufreq_governor": read1("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "versions": {
            "proxy": cmd_out([os.path.join(bin_dir, "proxy"), "--version"]),
            "tcp_ping_server": cmd_out([os.path.join(bin_dir, "tcp_ping_server"), "--version"]),
            "tcp_ping_client": cmd_out([os.path.join(bin_dir, "tcp_ping_client"), "--version"]),
            "haproxy": cmd_out(["haproxy", "-v"]).splitlines()[0] if shutil.which("haproxy") else None,
            "iperf3": cmd_out(["iperf3", "--version"]).splitlines()[0] if shutil.which("iperf3") else None,
            "sockperf": re.sub(r"\x1b\[[0-9;]*m", "", cmd_out(["sockperf", "--version"])).splitlines()[0]
            if shutil.which("sockperf") else None,
            "gnuplot": cmd_out(["gnuplot", "--version"]) if shutil.which("gnuplot") else None,
            "python": platform.python_version(),
        },
        "proxy_defaults": proxy_defaults(cmd_out([os.path.join(bin_dir, "proxy"), "-h"])),
        "git_commit": git,
        "git_dirty_files": [l[3:] for l in dirty.splitlines() if len(l) > 3],
    }

