"""Argument parsing shared by bench/run.sh and bench/tune."""

import pytest

from spbench.machine import cpu_model, proxy_defaults
from spbench.util import BadArgs, fmt_size, parse_list, parse_size, parse_workers


def test_sizes():
    assert parse_size("16K") == 16384 and parse_size("1M") == 1 << 20 and parse_size("65536") == 65536
    assert parse_size("256KiB") == 256 * 1024
    for bad in ("0", "-1K", "1X", ""):
        with pytest.raises(BadArgs):
            parse_size(bad)
    assert [fmt_size(n) for n in (16384, 1 << 20, 1000)] == ["16K", "1M", "1000"]


def test_workers():
    assert parse_workers("1..3") == [1, 2, 3]
    assert parse_workers("4,1,2-3") == [1, 2, 3, 4]
    assert parse_workers("1..N", ncpu=2) == [1, 2]
    with pytest.raises(BadArgs):
        parse_workers("x")
    with pytest.raises(BadArgs):
        parse_workers("0")


def test_list_rejects_unknown():
    assert parse_list("a, b,,a", ["a", "b"]) == ["a", "b"]
    with pytest.raises(BadArgs):
        parse_list("a,c", ["a", "b"])


def test_cpu_model_from_cpuinfo():
    x86 = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
    assert cpu_model(x86) == "AMD EPYC 7B13"
    mixed = "model name : A\nmodel name : A\nmodel name : B\n"
    assert cpu_model(mixed) == "2× A; 1× B"
    arm = "processor : 0\nBogoMIPS : 50.00\nModel : Raspberry Pi 4 Model B Rev 1.4\n"
    assert cpu_model(arm) == "Raspberry Pi 4 Model B Rev 1.4"
    assert cpu_model("processor : 0\n") is None


def test_proxy_defaults_from_its_help():
    text = ("      --pipe-size BYTES       largest pipe per direction in splice mode (F_SETPIPE_SZ; K/M suffixes): "
            "pipes start at 16K and double while splices fill them (default: 1M)\n"
            "      --buffer-size BYTES     read/write buffer per direction while data is in flight (default: 64K)\n")
    assert proxy_defaults(text) == {"buffer_size": "64K", "pipe_size": "1M"}
    assert proxy_defaults("") == {"buffer_size": None, "pipe_size": None}
    wrapped = ("      --pipe-size BYTES       largest pipe per direction in splice mode\n"
               "                              (F_SETPIPE_SZ; K/M suffixes) (default: 1M)\n"
               "      --buffer-size BYTES     largest read/write buffer per direction\n"
               "      --memory-budget BYTES   per worker (default: 64M)\n")
    assert proxy_defaults(wrapped) == {"buffer_size": None, "pipe_size": "1M"}


def test_machine_cpu_of_a_run_is_the_cores_with_steal_and_old_samples_still_read():
    from spbench.runner import machine_busy
    assert machine_busy({"user_s": 1.0, "sys_s": 0.5, "irq_s": 0.1, "steal_s": 0.25, "busy_s": 1.75}) == 1.75
    assert machine_busy({"user_s": 1.0, "sys_s": 0.5, "irq_s": 0.1}) == 1.5  # a run recorded before steal counted
