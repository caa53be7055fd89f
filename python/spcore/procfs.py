"""What the tools read from /proc: a process's CPU time, the machine's, the TCP ports in use, and
what a stuck process's threads are doing.

Machine CPU has ONE definition here, used by the benchmark, the tuner and the demo alike:

    busy = user + nice + system + irq + softirq + steal        (the first line of /proc/stat)

guest and guest_nice are already inside user and nice and are not added again; idle and iowait are
not busy. Steal time counts as busy: it is time a vCPU had work to run but the hypervisor gave the
core to someone else. Leaving it out makes a VM under a noisy neighbour look idle exactly when it
was short of CPU, so "machine busy %" and "machine CPU-s/GB" would look better the more the run
was starved; and busy + idle + iowait only adds up to the total with steal on the busy side. On
bare metal steal is 0 and nothing changes. (The benchmark and the demo used to leave steal out,
the tuner counted it: their machine figures did not compare.)
"""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")

# The first eight columns of the "cpu" line of /proc/stat, in kernel order.
STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def parse_proc_stat(text):
    """The machine's CPU seconds from /proc/stat's text: user_s (user + nice), sys_s (system + irq +
    softirq), irq_s (irq + softirq), softirq_s, steal_s, busy_s (user_s + sys_s + steal_s: the
    machine CPU of every tool) and total_s (busy_s + idle + iowait)."""
    line = text.splitlines()[0].split()
    if line[0] != "cpu":
        raise ValueError("/proc/stat does not start with the 'cpu' line")
    v = [int(x) for x in line[1:9]]
    v += [0] * (len(STAT_FIELDS) - len(v))  # old kernels: no steal column
    t = {name: n / CLK_TCK for name, n in zip(STAT_FIELDS, v)}
    user_s = t["user"] + t["nice"]
    sys_s = t["system"] + t["irq"] + t["softirq"]
    busy_s = user_s + sys_s + t["steal"]
    return {"user_s": user_s, "sys_s": sys_s, "irq_s": t["irq"] + t["softirq"], "softirq_s": t["softirq"],
            "steal_s": t["steal"], "busy_s": busy_s, "total_s": busy_s + t["idle"] + t["iowait"]}


def machine_cpu():
    """The whole machine's cumulative CPU seconds, all cores (see parse_proc_stat)."""
    with open("/proc/stat") as f:
        return parse_proc_stat(f.read())


def machine_busy_s():
    """CPU seconds the whole machine spent busy, all cores, steal included (module docstring)."""
    return machine_cpu()["busy_s"]


def parse_pid_stat(text):
    """User and system CPU seconds from the text of /proc/PID/stat."""
    # The command name (field 2) may hold blanks and parentheses: fields count from the last ')'.
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is the state (field 3); utime is field 14, stime field 15.
    return {"user_s": int(fields[11]) / CLK_TCK, "sys_s": int(fields[12]) / CLK_TCK}


def proc_cpu(pid):
    """Cumulative user and system CPU seconds of a process, all its threads (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return parse_pid_stat(f.read())
    except OSError:
        return None


def cpu_s(c):
    """user_s + sys_s of a CPU record (a process's, a stats snapshot's)."""
    return c["user_s"] + c["sys_s"]


def pid_cpu_s(pid):
    """User + system CPU seconds of a process (None once it is gone)."""
    c = proc_cpu(pid)
    return cpu_s(c) if c else None


def thread_last_cpu(pid, tid):
    """Field 39 of /proc/PID/task/TID/stat: the CPU the thread last ran on (-1 if unknown)."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[36])
    except (OSError, IndexError, ValueError):
        return -1


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
    """Every local TCP port in use (any state), or only those listened on. Read from /proc, not by
    connect(): probing would disturb iperf3 -s (it takes any connection as a test) and make a proxy
    dial its backend."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                ports |= parse_tcp_ports(f.read(), listening_only)
        except OSError:
            pass
    return ports


def listening_ports():
    """TCP ports in LISTEN state."""
    return used_tcp_ports(listening_only=True)


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
