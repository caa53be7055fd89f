"""The run plan (interleaving, the size sweep among the paths), the command line, and the client
and server commands each workload gets."""

import types

import pytest

from spbench import cli, workloads as W
from spbench.runner import plan


def args(*argv):
    return cli.build_args(list(argv))


def test_size_variants_interleaved_with_the_main_paths_every_rep():
    a = args("--paths", "direct,proxy-rw,haproxy", "--workloads", "iperf3-P1,redis-set", "--sizes", "16K,1M",
             "--reps", "2", "--no-sweep")
    items = plan(a)
    rep1 = [(p, w) for p, w, n, rep, _ in items if rep == 1]
    assert rep1 == [("direct", "iperf3-P1"), ("proxy-rw", "iperf3-P1"), ("haproxy", "iperf3-P1"),
                    ("proxy-rw@16K", "iperf3-P1"), ("proxy-rw@1M", "iperf3-P1"),
                    ("haproxy@16K", "iperf3-P1"), ("haproxy@1M", "iperf3-P1"),
                    ("direct", "redis-set"), ("proxy-rw", "redis-set"), ("haproxy", "redis-set")]
    assert len(items) == 2 * len(rep1)
    assert {ph for *_, ph in items} == {"main", "size-sweep"}


def test_worker_sweep_skips_the_main_worker_count_and_direct():
    a = args("--paths", "direct,proxy-rw", "--workloads", "iperf3-P4", "--sweep-workloads", "iperf3-P4",
             "--workers", "1,2", "--no-size-sweep", "--reps", "1")
    assert [(p, n, ph) for p, w, n, rep, ph in plan(a)] == [("direct", 1, "main"), ("proxy-rw", 1, "main"),
                                                           ("proxy-rw", 2, "sweep")]


def test_quick_moves_bytes_on_every_path_and_keeps_short():
    a = args("--quick")
    items = plan(a)
    paths = {p for p, *_ in items}
    assert {"direct", "proxy-rw", "proxy-splice", "proxy-auto", "haproxy", "haproxy-splice"} <= paths
    assert {"proxy-rw@16K", "haproxy-splice@1M"} <= paths
    assert set(W.REAL_CLIENTS) & {w for _, w, *_ in items}
    assert cli.estimate_s(a, items) < 180


def test_bad_arguments_exit_2(capsys):
    for bad in (["--paths", "proxy-rw,nope"], ["--sizes", "16Q"], ["--workloads", "redis-del"], ["--reps", "0"],
                ["--server-host", "10.0.0.2", "--workloads", "curl-256m"]):
        with pytest.raises(SystemExit) as e:
            args(*bad)
        assert e.value.code == 2
    assert "usage:" in capsys.readouterr().err


def ctx(**kw):
    a = types.SimpleNamespace(duration=4.0, warmup=1.0, client_threads=2, server_workers=2)
    c = types.SimpleNamespace(a=a, bin="/b", tmp="/t", rate_seen={}, scratch=lambda: "/s",
                              big_sha256=lambda: "abc", docroot=lambda: "/s/www")
    c.__dict__.update(kw)
    return c


def test_redis_request_count_follows_the_last_rate_seen():
    c = ctx()
    argv, window, _ = W.client_argv(c, W.WORKLOADS["redis-get-P32"], "127.0.0.1", 7000, "t")
    assert argv[argv.index("-n") + 1] == str(4 * W.WORKLOADS["redis-get-P32"]["rate_hint"])
    assert argv[argv.index("-P") + 1] == "32" and "--csv" in argv and window == "whole"
    c.rate_seen["redis-get-P32"] = 250000.0
    argv, _, _ = W.client_argv(c, W.WORKLOADS["redis-get-P32"], "127.0.0.1", 7000, "t")
    assert argv[argv.index("-n") + 1] == "1000000"


def test_the_churn_workload_opens_a_connection_per_request_and_the_others_keep_theirs():
    argv, _, _ = W.client_argv(ctx(), W.WORKLOADS["redis-get-k0"], "127.0.0.1", 7000, "t")
    assert argv[argv.index("-k") + 1] == "0" and argv[-1] == "--csv"
    for name in ("redis-get", "redis-set", "redis-get-P32"):
        argv, _, _ = W.client_argv(ctx(), W.WORKLOADS[name], "127.0.0.1", 7000, "t")
        assert "-k" not in argv, name


def test_curl_fetches_to_scratch_and_checks_the_served_file():
    argv, _, post = W.client_argv(ctx(), W.WORKLOADS["curl-256m"], "127.0.0.1", 8080, "t")
    assert argv.count("-o") == len(post["files"]) == 4
    assert all(f.startswith("/s/") for f in post["files"])
    assert post["sha256"] == "abc" and post["size"] == 256 << 20


def test_server_configs_have_no_persistence_and_stay_in_the_foreground(tmp_path):
    conf = W.redis_conf(7000, "127.0.0.1", str(tmp_path)).splitlines()
    assert {'save ""', "appendonly no", "daemonize no", "bind 127.0.0.1", "port 7000"} <= set(conf)
    ng = W.nginx_conf(8080, "127.0.0.1", "/s/www", str(tmp_path), "t")
    assert "daemon off;" in ng and "master_process off;" in ng and "listen 127.0.0.1:8080;" in ng


def test_data_file_digest(tmp_path):
    import hashlib
    p = tmp_path / "f"
    digest = W.make_data_file(str(p), 3 << 20 | 5)
    body = p.read_bytes()
    assert len(body) == 3 << 20 | 5 and hashlib.sha256(body).hexdigest() == digest
    assert body[:1 << 20] != body[1 << 20:2 << 20]  # random, not a repeated block


def test_the_counts_bench_readme_gives_are_what_plan_says():
    """bench/README.md quotes `bench/run.sh --plan` for --quick and the default run: keep them true."""
    import os
    import re
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    for argv, pattern in ((["--quick"], r"bench/run\.sh --quick --plan`: \"(\d+) runs .*?estimated (\d+) min"),
                          ([], r"`bench/run\.sh --plan`: \"(\d+) runs .*?estimated (\d+) min")):
        m = re.search(pattern, readme, re.S)
        assert m, pattern
        a = args(*argv)
        items = plan(a)
        assert int(m.group(1)) == len(items)
        assert int(m.group(2)) == round(cli.estimate_s(a, items) / 60)
