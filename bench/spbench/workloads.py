"""The workloads: for each, which backend serves it, which client loads it, how its output is read.

kind  backend                         client
ping  tcp_ping_server (echo)          tcp_ping_client --mode pingpong|stream
iperf3  iperf3 -s                     iperf3 -c -J
sockperf  sockperf sr --tcp           sockperf pp --tcp --full-rtt
redis  redis-server (no persistence)  redis-benchmark --csv
wrk   nginx (a small file)            wrk --latency
curl  nginx (a big file)              curl, every fetch's sha256 checked afterwards
mixed tcp_ping_server (echo)          mixed.py: a paced 1 KiB ping-pong alone, then beside N streams
"""

import hashlib
import math
import os
import socket
import sys

from . import parsers
from .startup import StartupError
from .util import fmt_s

# unit: the primary throughput metric; echo: every payload byte crosses the proxy twice;
# tool/package: what must be installed (the backend's and the client's).
WORKLOADS = {
    "pp-1k-1c": dict(kind="ping", mode="pingpong", length=1024, conns=1,
                     desc="tcp_ping_client ping-pong, 1 KiB messages, 1 connection"),
    "pp-1k-64c": dict(kind="ping", mode="pingpong", length=1024, conns=64,
                      desc="tcp_ping_client ping-pong, 1 KiB messages, 64 connections"),
    "pp-16k-1c": dict(kind="ping", mode="pingpong", length=16384, conns=1,
                      desc="tcp_ping_client ping-pong, 16 KiB messages, 1 connection"),
    "stream-64k-1c": dict(kind="ping", mode="stream", length=65536, conns=1,
                          desc="tcp_ping_client stream through the echo server, 64 KiB messages, 1 connection"),
    "stream-64k-8c": dict(kind="ping", mode="stream", length=65536, conns=8,
                          desc="tcp_ping_client stream through the echo server, 64 KiB messages, 8 connections"),
    "iperf3-P1": dict(kind="iperf3", streams=1, desc="iperf3 -c (upload), 1 stream, iperf3 -s behind the proxy"),
    "iperf3-P4": dict(kind="iperf3", streams=4, desc="iperf3 -c (upload), 4 parallel streams (-P 4)"),
    "sockperf-pp-1k": dict(kind="sockperf", length=1024,
                           desc="sockperf pp --tcp -m 1024 --full-rtt (round trips), sockperf sr behind the proxy"),
    "redis-set": dict(kind="redis", test="set", conns=50, pipeline=1, rate_hint=60000,
                      desc="redis-benchmark -t set -c 50 against redis-server (no persistence)"),
    "redis-get": dict(kind="redis", test="get", conns=50, pipeline=1, rate_hint=60000,
                      desc="redis-benchmark -t get -c 50 against redis-server"),
    "redis-get-k0": dict(kind="redis", test="get", conns=20, pipeline=1, keepalive=False, rate_hint=6000,
                         desc="redis-benchmark -t get -c 20 -k 0: a new connection for every request, so each "
                              "request is a whole proxy session (connect, relay, close)"),
    "redis-get-P32": dict(kind="redis", test="get", conns=50, pipeline=32, rate_hint=1000000,
                          desc="redis-benchmark -t get -c 50 -P 32 (32 pipelined requests per connection)"),
    "wrk-1k-64c": dict(kind="wrk", conns=64, file_size=1024,
                       desc="wrk -c 64 against nginx, a 1 KiB file, keep-alive"),
    "curl-256m": dict(kind="curl", file_size=256 << 20,
                      desc="curl fetching a 256 MiB file from nginx, sha256 of every fetch checked"),
}
# Fair turns: a 1 KiB ping-pong victim at 500 msg/s, alone and then beside N bulk streams on the
# same proxy (run at 1 worker / nbthread 1, so they share it). Throughput: the streams'; latency:
# the victim's beside them (its figures alone are kept in the same run's metrics).
for _n in (1, 4, 16):
    WORKLOADS[f"mixed-{_n}s"] = dict(kind="mixed", streams=_n, rate=500,
                                     desc=f"a 1 KiB ping-pong at 500 msg/s (tcp_ping_client --rate), alone and "
                                          f"beside {_n} bulk stream{'s' if _n > 1 else ''} (--mode stream -c {_n})")
MIXED = [w for w, d in WORKLOADS.items() if d["kind"] == "mixed"]
for _name, _w in WORKLOADS.items():
    _w["name"] = _name
    _w["unit"] = ("msg_per_s" if _w["kind"] in ("sockperf", "redis", "wrk") or _w.get("mode") == "pingpong"
                  else "gbit_per_s")
    _w["label"] = {"redis": "req/s", "wrk": "req/s"}.get(_w["kind"], "msg/s" if _w["unit"] == "msg_per_s"
                                                          else "Gbit/s")
    _w["echo"] = _w["kind"] in ("ping", "sockperf", "mixed")

# which programs a kind needs, and their Debian packages
TOOLS = {"iperf3": [("iperf3", "iperf3")], "sockperf": [("sockperf", "sockperf")],
         "redis": [("redis-server", "redis-server"), ("redis-benchmark", "redis-tools")],
         "wrk": [("nginx", "nginx-light"), ("wrk", "wrk")], "curl": [("nginx", "nginx-light"), ("curl", "curl")]}

REAL_CLIENTS = ["redis-set", "redis-get", "redis-get-P32", "redis-get-k0", "wrk-1k-64c", "curl-256m"]
DEFAULT = ["pp-1k-1c", "pp-1k-64c", "pp-16k-1c", "stream-64k-1c", "stream-64k-8c", "iperf3-P1", "iperf3-P4",
           "sockperf-pp-1k"] + REAL_CLIENTS + MIXED
QUICK = ["pp-1k-1c", "stream-64k-8c", "iperf3-P1", "sockperf-pp-1k", "redis-get-P32", "wrk-1k-64c", "curl-256m",
         "mixed-4s"]
SWEEP = ["iperf3-P4", "pp-1k-64c"]
HEADLINE = ["iperf3-P1", "iperf3-P4", "pp-1k-1c"]


def unit(wname):
    return WORKLOADS[wname]["unit"]


def label(wname):
    return WORKLOADS[wname]["label"]


def tools_for(wnames):
    return [t for w in wnames for t in TOOLS.get(WORKLOADS[w]["kind"], [])]


# --------------------------------------------------------------------------------------------
# backends


def redis_conf(port, host, tmp):
    return "\n".join([f"port {port}", f"bind {host}", 'save ""', "appendonly no", f"dir {tmp}",
                      "daemonize no", 'logfile ""', "databases 1", "protected-mode no", ""])


def nginx_conf(port, host, root, tmp, tag):
    t = os.path.join(tmp, f"{tag}.nginx")
    return f"""# written by bench/run.sh: one process, in the foreground, no logs but errors
daemon off;
master_process off;
worker_processes 1;
pid {t}.pid;
error_log {t}.error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_body_temp_path {t}.body;
  proxy_temp_path {t}.proxy;
  fastcgi_temp_path {t}.fastcgi;
  uwsgi_temp_path {t}.uwsgi;
  scgi_temp_path {t}.scgi;
  default_type application/octet-stream;
  server {{ listen {host}:{port}; root {root}; }}
}}
"""


def backend_argv(ctx, wl, host, port, tag):
    """argv of the backend of a workload; ctx is the running bench (its bin dir, tmp dir, args)."""
    kind = wl["kind"]
    if kind in ("ping", "mixed"):
        return [os.path.join(ctx.bin, "tcp_ping_server"), "-s", host, "-p", str(port),
                "-w", str(ctx.a.server_workers)]
    if kind == "iperf3":
        return ["iperf3", "-s", "-B", host, "-p", str(port)]
    if kind == "sockperf":
        return ["sockperf", "sr", "--tcp", "-i", host, "-p", str(port)]
    if kind == "redis":
        conf = os.path.join(ctx.tmp, f"{tag}.redis.conf")
        with open(conf, "w") as f:
            f.write(redis_conf(port, host, ctx.tmp))
        return ["redis-server", conf]
    if kind in ("wrk", "curl"):
        conf = os.path.join(ctx.tmp, f"{tag}.nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_conf(port, host, ctx.docroot(), ctx.tmp, tag))
        return ["nginx", "-p", ctx.tmp, "-c", conf, "-e", os.path.join(ctx.tmp, f"{tag}.nginx.error.log")]
    raise ValueError(kind)


def prepare(wl, host, port):
    """Before the client starts: a GET benchmark needs its key to exist (redis-benchmark, without
    -r, reads the one key "key:__rand_int__"; its value: -d 3 bytes of 'x', as SET writes)."""
    if wl["kind"] == "redis" and wl["test"] == "get":
        if redis_set(host, port, "key:__rand_int__", "xxx") != "+OK":
            raise StartupError(f"redis-server at {host}:{port} did not take the SET of the GET benchmark's key")


# --------------------------------------------------------------------------------------------
# clients


def make_data_file(path, size):
    """A file of `size` random bytes; returns its hex sha256. Random, so that a chunk lost,
    repeated or reordered on the way changes the digest."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left > 0:
            chunk = os.urandom(min(left, 1 << 20))
            f.write(chunk)
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def redis_set(host, port, key, value, timeout=5.0):
    """One SET over RESP; returns the server's reply line ("+OK")."""
    k, v = key.encode(), value.encode()
    cmd = b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v)
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(cmd)
            return s.recv(256).decode("ascii", "replace").strip()
    except OSError as e:
        return f"error {e}"


def curl_fetches(duration):
    """Enough fetches of the big file to fill about `duration` seconds at a few Gbit/s."""
    return max(1, min(8, math.ceil(duration)))


def client_argv(ctx, wl, host, port, tag):
    """(argv, window, post): window is what the CPU is measured over (after_warmup or whole run);
    post what the output parser needs beyond stdout."""
    a = ctx.a
    kind = wl["kind"]
    dur = max(1, round(a.duration))
    post = {}
    if kind == "ping":
        threads = min(wl["conns"], a.client_threads)
        argv = [os.path.join(ctx.bin, "tcp_ping_client"), "-s", host, "-p", str(port),
                "-c", str(wl["conns"]), "-T", str(threads), "-l", str(wl["length"]),
                "-t", fmt_s(a.duration), "--mode", wl["mode"], "--warmup", fmt_s(a.warmup), "--json"]
        return argv, "after_warmup", post
    if kind == "mixed":
        argv = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "mixed.py"),
                "--client", os.path.join(ctx.bin, "tcp_ping_client"), "-s", host, "-p", str(port),
                "--streams", str(wl["streams"]), "--rate", str(wl["rate"]), "--duration", fmt_s(a.duration),
                "--warmup", fmt_s(max(0.5, a.warmup))]
        return argv, "whole", post
    if kind == "iperf3":
        argv = ["iperf3", "-c", host, "-p", str(port), "-t", str(dur),
                "-O", str(max(0, math.ceil(a.warmup))), "-P", str(wl["streams"]), "-J"]
    elif kind == "sockperf":
        # sockperf has its own fixed warm-up (400 ms) that it leaves out of its statistics
        argv = ["sockperf", "pp", "--tcp", "-i", host, "-p", str(port), "-m", str(wl["length"]),
                "-t", str(dur), "--full-rtt"]
    elif kind == "redis":
        # redis-benchmark counts requests, not seconds: as many as the last run of this workload
        # managed in --duration (the hint before the first)
        rate = ctx.rate_seen.get(wl["name"]) or wl["rate_hint"]
        n = max(1000, min(int(rate * a.duration), 50_000_000))
        argv = ["redis-benchmark", "-h", host, "-p", str(port), "-c", str(wl["conns"]), "-n", str(n),
                "-t", wl["test"], "-P", str(wl["pipeline"]), "--csv"]
        if not wl.get("keepalive", True):
            argv[-1:-1] = ["-k", "0"]  # a connection per request: what a session costs
        post = {"requests": n}
    elif kind == "wrk":
        threads = max(1, min(wl["conns"], a.client_threads))
        argv = ["wrk", "-t", str(threads), "-c", str(wl["conns"]), "-d", f"{dur}s", "--latency",
                f"http://{host}:{port}/small.bin"]
    elif kind == "curl":
        argv = ["curl", "-sS", "--fail", "--no-progress-meter", "-w", "%{json}\\n"]
        files = [os.path.join(ctx.scratch(), f"{tag}.fetch{i}") for i in range(curl_fetches(a.duration))]
        for f in files:
            argv += ["-o", f, f"http://{host}:{port}/big.bin"]
        post = {"files": files, "sha256": ctx.big_sha256(), "size": wl["file_size"]}
    else:
        raise ValueError(kind)
    return argv, "whole", post


def parse(wl, stdout, post):
    kind = wl["kind"]
    if kind == "ping":
        return parsers.parse_ping(stdout, wl["mode"])
    if kind == "mixed":
        return parsers.parse_mixed(stdout)
    if kind == "iperf3":
        return parsers.parse_iperf3(stdout)
    if kind == "sockperf":
        return parsers.parse_sockperf(stdout, wl["length"])
    if kind == "redis":
        m, raw, problems = parsers.parse_redis_benchmark(stdout, wl["test"])
        m["requests"] = post.get("requests")
        return m, raw, problems
    if kind == "wrk":
        return parsers.parse_wrk(stdout)
    if kind == "curl":
        try:
            digests = [parsers.sha256_file(f) for f in post["files"]]
        finally:
            for f in post["files"]:
                try:
                    os.unlink(f)
                except OSError:
                    pass
        return parsers.parse_curl(stdout, post["sha256"], post["size"], digests)
    raise ValueError(kind)
