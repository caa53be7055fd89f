"""spcore.procfs: the one definition of machine CPU (steal counted), a process's CPU, the ports."""

import os

import pytest

from spcore import procfs

T = procfs.CLK_TCK


def stat_line(user=0, nice=0, system=0, idle=0, iowait=0, irq=0, softirq=0, steal=0, guest=0, guest_nice=0):
    return (f"cpu  {user} {nice} {system} {idle} {iowait} {irq} {softirq} {steal} {guest} {guest_nice}\n"
            f"cpu0 {user} {nice} {system} {idle} {iowait} {irq} {softirq} {steal} {guest} {guest_nice}\n"
            "intr 1 2 3\n")


def test_machine_cpu_counts_steal_as_busy():
    m = procfs.parse_proc_stat(stat_line(user=100, nice=10, system=50, idle=1000, iowait=20, irq=5,
                                         softirq=15, steal=40))
    assert m["user_s"] == pytest.approx(110 / T)
    assert m["sys_s"] == pytest.approx(70 / T)          # system + irq + softirq
    assert m["irq_s"] == pytest.approx(20 / T)
    assert m["softirq_s"] == pytest.approx(15 / T)
    assert m["steal_s"] == pytest.approx(40 / T)
    assert m["busy_s"] == pytest.approx(220 / T)        # 110 + 70 + steal 40: steal is not idle
    assert m["total_s"] == pytest.approx(1240 / T)      # busy + idle + iowait: every tick once


def test_steal_alone_makes_a_starved_vm_busy_not_idle():
    quiet = procfs.parse_proc_stat(stat_line(user=100, idle=900))
    starved = procfs.parse_proc_stat(stat_line(user=100, idle=500, steal=400))
    assert starved["busy_s"] - quiet["busy_s"] == pytest.approx(400 / T)
    assert starved["total_s"] == pytest.approx(quiet["total_s"])


def test_guest_time_is_inside_user_and_not_counted_twice():
    m = procfs.parse_proc_stat(stat_line(user=100, nice=20, guest=60, guest_nice=10, idle=5))
    assert m["busy_s"] == pytest.approx(120 / T)


def test_old_kernel_without_a_steal_column():
    m = procfs.parse_proc_stat("cpu  10 0 5 100 0 1 2\n")
    assert m["steal_s"] == 0 and m["busy_s"] == pytest.approx(18 / T)


def test_not_proc_stat():
    with pytest.raises(ValueError):
        procfs.parse_proc_stat("intr 1 2 3\n")


def test_this_machine_busy_is_monotonic_and_within_total():
    a = procfs.machine_cpu()
    b = procfs.machine_cpu()
    assert 0 <= a["busy_s"] <= a["total_s"]
    assert b["busy_s"] >= a["busy_s"] and procfs.machine_busy_s() >= b["busy_s"]


def test_pid_stat_with_blanks_and_parentheses_in_the_name():
    text = "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 " + f"{3 * T} {2 * T} 0 0 20 0 4 0 5 6 7\n"
    assert procfs.parse_pid_stat(text) == {"user_s": 3.0, "sys_s": 2.0}


def test_own_process_cpu():
    c = procfs.proc_cpu(os.getpid())
    assert c["user_s"] >= 0 and c["sys_s"] >= 0
    assert procfs.pid_cpu_s(os.getpid()) == pytest.approx(procfs.cpu_s(c), abs=0.1)
    assert procfs.proc_cpu(2 ** 22 + 12345) is None and procfs.pid_cpu_s(2 ** 22 + 12345) is None


def test_thread_dump_of_a_live_and_a_gone_process():
    assert f"tid {os.getpid()} " in procfs.thread_dump(os.getpid())
    assert procfs.thread_dump(2 ** 22 + 12345).endswith("gone\n")


def test_used_ports_from_proc_net_tcp():
    table = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
             "   0: 0100007F:270F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n"
             "   1: 0100007F:9C40 0100007F:270F 01 00000000:00000000 00:00000000 00000000     0        0 2\n")
    assert procfs.parse_tcp_ports(table) == {9999, 40000}
    assert procfs.parse_tcp_ports(table, listening_only=True) == {9999}


