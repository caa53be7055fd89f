"""What the tools read from /proc: a process's CPU time, the machine's, the TCP ports in use, and
what a stuck process's threads are doing."""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def pid_cpu_s(pid):
    """User + system CPU seconds of a process, all its threads (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold blanks and parentheses: fields count from the last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu_s():
    """CPU seconds the whole machine spent busy, all cores: user, nice, system, irq, softirq — the
    same definition as bench/spbench/sample.py, so the demo's machine CPU-s/GB and the benchmark's
    compare (idle, iowait and a VM's steal time are not work done here)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = v[:7]
    return (user + nice + system + irq + softirq) / CLK_TCK


TCP_LISTEN = "0A"  # the st column of /proc/net/tcp


def parse_tcp_ports(text, listening_only=False):
    """Local ports of a /proc/net/tcp{,6} table ("sl local_address rem_address st ...")."""
    ports = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and ":" in fields[1] and (not listening_only or fields[3] == TCP_LISTEN):
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def used_tcp_ports(listening_only=False):
    """Every local TCP port in use (any state), or only those listened on."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                ports |= parse_tcp_ports(f.read(), listening_only)
        except OSError:
            pass
    return ports


def ephemeral_low():
    """The first port of the ephemeral range (connections' source ports come from there)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def thread_dump(pid):
    """Each thread's name, state, wait channel and kernel stack, for a process that will not stop."""
    lines = []
    try:
        tids = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
    except OSError:
        return f"pid {pid}: gone\n"
    for tid in tids:
        t = f"/proc/{pid}/task/{tid}"
        stat = _read(f"{t}/stat")
        state = stat[stat.rindex(")") + 2:].split()[0] if ")" in stat else "?"
        lines.append(f"tid {tid} {_read(t + '/comm')} state {state} wchan {_read(t + '/wchan')}")
        stack = _read(f"{t}/stack")
        if stack:
            lines.append(stack)
    return "\n".join(lines) + "\n"
