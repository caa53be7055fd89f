"""The soak runner's command line and environment, its log files (NDJSON samples, client summaries,
churn rounds), and --report on a log directory."""

import json
import socket

import pytest

from spcore.fakes import FakeStatsServer
from sptools import soak_args, soak_churn, soak_ready, soak_run, soak_verdict

from .test_soak_verdict import healthy

MODES = ["rw", "splice", "auto"]


def settings(argv, env=None):
    return soak_args.check(soak_args.raw_settings(argv, env or {}), MODES)


def test_defaults():
    s = settings([])
    assert (s["mode"], s["duration"], s["connections"], s["client_threads"], s["length"], s["churn"],
            s["churn_count"], s["interval"], s["warmup"], s["fd_tolerance"], s["rss_pct"], s["rss_mib"]) == \
        ("rw", None, 32, 2, "1024", 8, 200, 5, 60, 2, 10, 8)
    assert s["workers"] == soak_args.online_cpus() and s["server_port"] == "auto" and not s["client_only"]


def test_environment_then_flags_and_a_flag_wins():
    env = {"SOAK_MODE": "splice", "SOAK_DURATION": "2m", "SOAK_WORKERS": "3", "SOAK_INTERVAL": "2"}
    s = settings([], env)
    assert (s["mode"], s["duration"], s["workers"], s["interval"]) == ("splice", 120, 3, 2)
    s = settings(["-m", "auto", "--duration=1h", "-w", "1"], env)
    assert (s["mode"], s["duration"], s["workers"]) == ("auto", 3600, 1)


def test_warmup_default_follows_the_duration():
    assert settings(["-d", "30", "-i", "1"])["warmup"] == 3      # duration / 10
    assert settings(["-d", "30", "-i", "5"])["warmup"] == 10     # at least 2 intervals
    assert settings(["-d", "2h"])["warmup"] == 60                # at most 60
    assert settings(["-d", "100", "--warmup", "0"])["warmup"] == 0


def test_client_only_addresses():
    s = settings(["--client-only"])
    assert (s["client_only"], s["proxy"], s["stats"]) == (True, "proxy:9998", "proxy:9997")
    s = settings([], {"SOAK_CLIENT_ONLY": "yes", "SOAK_PROXY": "10.0.0.5:7000"})
    assert (s["proxy"], s["stats"]) == ("10.0.0.5:7000", "10.0.0.5:9997")


def test_shared_is_for_client_only_runs():
    assert settings(["--client-only", "--shared"])["shared"] is True
    assert settings([], {"SOAK_CLIENT_ONLY": "1", "SOAK_SHARED": "1"})["shared"] is True
    assert settings(["--client-only"])["shared"] is False


def test_modes_are_the_ones_given_so_new_ones_join():
    assert soak_args.check(soak_args.raw_settings(["-m", "uring"], {}), MODES + ["uring"])["mode"] == "uring"
    with pytest.raises(soak_args.UsageError, match=r"bad mode 'uring' \(rw, splice or auto\)"):
        settings(["-m", "uring"])


@pytest.mark.parametrize("argv, env, why", [
    (["--bogus"], {}, "unknown option '--bogus'"),
    (["--connections"], {}, "option '--connections' needs a value"),
    (["--mode", "copy"], {}, "bad mode 'copy'"),
    ([], {"SOAK_MODE": "copy"}, "bad mode 'copy'"),
    (["--duration", "soon"], {}, "bad duration 'soon'"),
    (["--duration", "0"], {}, "bad duration '0'"),
    (["--interval", "0"], {}, "bad interval '0'"),
    (["--workers", "0"], {}, "bad workers '0'"),
    (["-c", "-1"], {}, "bad connections '-1'"),
    (["--length", "0K"], {}, "bad length '0K'"),
    (["--rate", "fast"], {}, "bad rate 'fast'"),
    (["--nice", "20"], {}, "bad nice '20'"),
    (["--stats-port", "70000"], {}, "bad stats-port '70000'"),
    (["--listen", "a b"], {}, "bad listen address 'a b'"),
    (["--rss-pct", "x"], {}, "bad rss-pct 'x'"),
    ([], {"SOAK_CLIENT_ONLY": "maybe"}, "bad SOAK_CLIENT_ONLY 'maybe'"),
    (["--client-only", "--proxy", "nohost"], {}, "bad proxy address 'nohost'"),
    (["--shared"], {}, "--shared (SOAK_SHARED) needs --client-only"),
    (["--client-only"], {"SOAK_SHARED": "2"}, "bad SOAK_SHARED '2'"),
])
def test_bad_values_exit_2_with_one_line_then_the_usage(argv, env, why, capsys):
    assert soak_run.main(argv, env) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"soak: {why}" or err[0].startswith(f"soak: {why} ")
    assert err[1] == "usage: soak [options]"


def test_help_lists_every_variable(capsys):
    assert soak_run.main(["-h"], {}) == 0
    out = capsys.readouterr().out
    for name, var in soak_args.OPTIONS.values():
        assert var is None or var in out, var
    assert "SOAK_CLIENT_ONLY" in out


def test_churn_round_records():
    ok = {"type": "summary", "ok": True, "messages": 1600, "errors": {"total": 0}, "first_error": None}
    assert soak_churn.round_record(0, ok, False) == {"rc": 0, "interrupted": False, "ok": True, "messages": 1600,
                                                     "errors": {"total": 0}, "first_error": None}
    assert soak_churn.round_record(1, ok, False)["ok"] is False          # exit code counts
    assert soak_churn.round_record(124, None, False) == {"rc": 124, "interrupted": False, "ok": False,
                                                         "messages": 0, "errors": None, "first_error": None}
    assert soak_churn.round_record(0, dict(ok, ok=False, first_error="boom"), True)["first_error"] == "boom"


def test_summary_is_the_last_summary_line(tmp_path):
    out = tmp_path / "client.json"
    out.write_text('{"type":"interval","t":1}\n{"type":"summary","messages":1}\nnoise\n{"type":"summary","messages":2}\n')
    assert soak_verdict.summary_of(str(out))["messages"] == 2
    assert soak_verdict.summary_of(str(tmp_path / "none.json")) is None
    out.write_text('{"type":"summary","messages":1}\n{"type":"summary", broken\n')
    assert soak_verdict.summary_of(str(out)) is None
    out.write_text('{"type":"summary","messages":3}\n')
    assert soak_churn.last_summary(str(out))["messages"] == 3
    out.write_text('{"type":"summary","messages":3}\n{"type":"interval"}\n')
    assert soak_churn.last_summary(str(out)) is None  # as before: only the last line is looked at


def test_ndjson_reader_names_the_bad_line(tmp_path):
    f = tmp_path / "samples.ndjson"
    f.write_text('{"a":1}\n\n{"a":2}\n{"a":\n')
    with pytest.raises(soak_verdict.LogError, match=r"samples.ndjson line 4: not JSON"):
        soak_verdict.read_ndjson(str(f))
    f.write_text('{"a":1}\n\n{"a":2}\n')
    assert soak_verdict.read_ndjson(str(f)) == [{"a": 1}, {"a": 2}]
    assert soak_verdict.read_ndjson(str(tmp_path / "churn.ndjson"), missing_ok=True) == []


def write_log(d, run):
    (d / "meta.json").write_text(json.dumps(run["meta"]))
    (d / "samples.ndjson").write_text("".join(json.dumps(s) + "\n" for s in run["samples"]))
    (d / "client.json").write_text('{"type":"interval"}\n' + json.dumps(run["client"], separators=(",", ":")) + "\n")
    (d / "churn.ndjson").write_text("".join(json.dumps(c) + "\n" for c in run["churn"]))


def test_report_recomputes_the_verdict_of_a_log_directory(tmp_path, capsys):
    write_log(tmp_path, healthy())
    out = tmp_path / "out.json"
    assert soak_run.main(["--report", str(tmp_path), "--json-out", str(out)], {}) == 0
    assert "soak verdict: PASS" in capsys.readouterr().out
    v = json.loads((tmp_path / "verdict.json").read_text())
    assert v == json.loads(out.read_text()) and v["ok"] is True
    # A tolerance changed in meta.json after the run: the same samples now fail.
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["tolerances"]["rss_growth_mib"] = 0
    meta["tolerances"]["rss_growth_pct"] = 0
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    lines = (tmp_path / "samples.ndjson").read_text().splitlines()
    grown = [json.loads(l) for l in lines]
    for sample in grown[-10:-1]:  # the last quarter of the run samples, 4 KiB more
        sample["process"]["rss_bytes"] += 4096
    (tmp_path / "samples.ndjson").write_text("".join(json.dumps(s) + "\n" for s in grown))
    assert soak_run.main(["--report", str(tmp_path)], {}) == 1
    assert "RSS flat after warm-up                FAIL" in capsys.readouterr().out


def test_report_without_a_log_or_with_a_broken_one(tmp_path, capsys):
    assert soak_run.main(["--report", str(tmp_path)], {}) == 3
    assert "no meta.json or samples.ndjson" in capsys.readouterr().err
    write_log(tmp_path, healthy())
    with open(tmp_path / "samples.ndjson", "a") as f:
        f.write("{truncated\n")
    assert soak_run.main(["--report", str(tmp_path)], {}) == 1
    assert "could not compute the verdict" in capsys.readouterr().err


def test_progress_line():
    rec = healthy()["samples"][4]
    line = soak_run.progress(rec, "[rw]", "/40s", "  churn 3 rounds, 0 failed")
    assert line == ("[rw] t=    5s/40s  2 MB/s  conns 32/45  fds 83 (19+2x32)  rss 4.8 MiB  cpu% w0 2/20 w1 2/20"
                    "  churn 3 rounds, 0 failed")


def fake_client(tmp_path, script):
    path = tmp_path / "tcp_ping_client"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return str(path)


def test_ready_probe_is_one_ping_through_the_proxy(tmp_path):
    args = tmp_path / "args"
    ok = fake_client(tmp_path, f'echo "$@" > {args}; echo \'{{"type":"summary","ok":true}}\'')
    assert soak_ready.ping_through(ok, "proxy:9998", "1024") == (True, "")
    assert args.read_text().split() == ["-s", "proxy:9998", "-n", "1", "-c", "1", "-T", "1", "-l", "1024", "--json"]
    closed = fake_client(tmp_path, "echo 'tcp_ping_client: proxy:9998: connection reset by peer' >&2; exit 1")
    assert soak_ready.ping_through(closed, "proxy:9998", "1024") == (False, "tcp_ping_client: proxy:9998: connection reset by peer")
    hung = fake_client(tmp_path, "sleep 5")
    assert soak_ready.ping_through(hung, "proxy:9998", "1024", timeout=0.2) == (False, "no answer in 0.2 s")
    assert soak_ready.ping_through(str(tmp_path / "none"), "p:1", "1")[1].startswith("cannot run ")


class FakeStats(FakeStatsServer):
    """A stats socket on loopback that answers every connection with one proxy snapshot."""

    def __init__(self, snap):
        line = (json.dumps(snap) + "\n").encode()
        super().__init__(socket.AF_INET, lambda cmd: line)
        self.port = self.addr[1]


def client_only_soak(tmp_path, client_script, wait="5"):
    stats = FakeStats({"version": 1, "program": "proxy", "pid": 1, "mode": "rw", "workers": [],
                       "totals": {"connections_active": 0}})
    s = settings(["--client-only", "--proxy", "127.0.0.1:9", "--stats", f"127.0.0.1:{stats.port}", "--wait", wait])
    soak = soak_run.Soak(s)
    soak.client_bin = fake_client(tmp_path, client_script)
    soak.stats_host, soak.stats_port = "127.0.0.1", stats.port
    return soak


def test_client_only_is_ready_once_a_ping_came_back_through_the_proxy(tmp_path):
    # A proxy whose stats answer at once but whose remote resolves only later: the first two
    # pings are closed on, the third comes back.
    tries = tmp_path / "tries"
    soak = client_only_soak(tmp_path, f'echo x >> {tries}; [ $(wc -l < {tries}) -ge 3 ] || exit 1')
    snap = soak.wait_ready(5)
    assert snap["program"] == "proxy"
    assert len(tries.read_text().splitlines()) == 3


def test_client_only_not_ready_names_why(tmp_path):
    soak = client_only_soak(tmp_path, "echo 'connect 127.0.0.1:9: connection reset by peer' >&2; exit 1", wait="1")
    with pytest.raises(soak_run.CannotStart, match=r"not ready in 1s: no ping came back through 127.0.0.1:9 "
                                                   r"\(connect 127.0.0.1:9: connection reset by peer\)"):
        soak.wait_ready(1)


def test_a_churn_round_our_stop_ended_before_it_started_is_no_round():
    assert soak_churn.never_started(143, None, stopping=True)
    # Anything else is judged: a summary, another exit, or a SIGTERM that was not ours.
    assert not soak_churn.never_started(143, {"type": "summary", "ok": False}, stopping=True)
    assert not soak_churn.never_started(1, None, stopping=True)
    assert not soak_churn.never_started(137, None, stopping=True)
    assert not soak_churn.never_started(143, None, stopping=False)


def test_the_proxy_address_is_resolved_once_or_left_as_it_was():
    assert soak_ready.pinned("localhost:9998") == "127.0.0.1:9998"
    assert soak_ready.pinned("127.0.0.1:7") == "127.0.0.1:7"
    assert soak_ready.pinned("[::1]:7") == "[::1]:7"
    assert soak_ready.pinned("no-such-host.invalid:9998") == "no-such-host.invalid:9998"
    assert soak_ready.split_addr("[::1]:9997") == ("::1", 9997)
