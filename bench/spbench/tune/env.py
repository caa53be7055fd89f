"""bench/tune's environment (network namespaces made by scripts/netns-topology, or loopback),
the echo server, and one run: server, proxy and client started, the window measured, all ended."""

import json
import os
import signal
import subprocess
import time

from spcore.net import free_ports

from ..util import REPO, log
from .measure import RunFailed, check_pins, client_errors, diagnose, measure, proc_seconds, tail, unix_stats, wait_stats  # noqa: F401
from .measure import machine_ticks

TOPOLOGY = os.path.join(REPO, "scripts", "netns-topology")
PROXY_PORT = 9998
SERVER_PORT = 9999


class Env:
    def __init__(self, args, procs, tmp):
        self.args, self.procs, self.tmp = args, procs, tmp
        self.topology = None
        self.server = None
        self.ns = {}

    def __enter__(self):
        a = self.args
        if a.topology == "netns":
            cmd = [TOPOLOGY, "up", "--tag", a.tag, "--json"]
            if a.delay:
                cmd += ["--delay", a.delay]
            if a.rate:
                cmd += ["--rate", a.rate]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise SystemExit(f"tune: {' '.join(cmd)} failed: {r.stderr.strip()}")
            self.topology = json.loads(r.stdout)
            t = self.topology
            self.ns = {k: t[k]["ns"] for k in ("client", "proxy", "server")}
            self.listen = t["proxy"]["client_side"]["addr"]
            self.server_addr = t["server"]["addr"]
            self.proxy_port, self.server_port = PROXY_PORT, SERVER_PORT
            log(f"topology spx-{a.tag}: client {t['client']['addr']} -> proxy {self.listen} | "
                f"{t['proxy']['server_side']['addr']} -> server {self.server_addr}"
                + (f" (links: {t['links'][0]['qdisc']['client']})" if t["links"][0]["qdisc"]["client"] != "none" else ""))
        else:
            self.listen = self.server_addr = "127.0.0.1"
            self.proxy_port, self.server_port = free_ports(2)
        return self

    def __exit__(self, *exc):
        # Cleanup is bounded and must not be cut short by a second Ctrl-C.
        saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            self.procs.stop_all()
            if self.topology is not None:
                subprocess.run([TOPOLOGY, "down", "--tag", self.args.tag, "--kill"], capture_output=True, timeout=60)
                self.topology = None
        finally:
            for sig, h in saved.items():
                signal.signal(sig, h)

    def argv(self, role, argv):
        if self.ns:
            return ["ip", "netns", "exec", self.ns[role]] + argv
        return argv

    def start_server(self, seq):
        """A fresh echo server for every run: no state carried from one run to the next."""
        self.server_sock = os.path.join(self.tmp, f"server-{seq}.stats")
        self.server = self.procs.start(f"server-{seq}", self.argv("server", [
            self.args.bin("tcp_ping_server"), "-s", self.server_addr, "-p", str(self.server_port),
            "-w", str(self.args.server_workers), "--stats", "unix:" + self.server_sock]))
        wait_stats(self.server_sock, self.server)

    def stop_server(self):
        self.procs.stop(self.server)
        self.server = None


def run_one(env, setting, args, seq):
    procs, tmp = env.procs, env.tmp
    sock = os.path.join(tmp, f"proxy-{seq}.stats")
    proxy = client = None
    try:
        env.start_server(seq)
        proxy = procs.start(f"proxy-{seq}", env.argv("proxy", [
            args.bin("proxy"), "-s", env.listen, "-p", str(env.proxy_port), "-r", env.server_addr,
            "-c", str(env.server_port), "--stats", "unix:" + sock, "--grace", "1"] + setting.flags(args.cpus)))
        wait_stats(sock, proxy)
        total_s = args.warmup + args.duration + 1.0  # the measured window lies strictly inside
        cmd = [args.bin("tcp_ping_client"), "-s", env.listen, "-p", str(env.proxy_port), "--mode", args.load,
               "-c", str(args.connections), "-T", str(args.client_threads), "-t", f"{total_s:g}", "--json"]
        if args.length:
            cmd += ["-l", args.length]
        client = procs.start(f"client-{seq}", env.argv("client", cmd))
        started = time.monotonic()
        time.sleep(args.warmup)
        if client.poll() is not None:
            raise RunFailed(f"client exited early ({client.returncode}): {tail(client.err_path)}")
        pids = [proxy.pid, client.pid, env.server.pid]
        s0, m0, p0 = unix_stats(sock), machine_ticks(), sum(proc_seconds(p) for p in pids)
        time.sleep(args.duration)
        s1, m1, p1 = unix_stats(sock), machine_ticks(), sum(proc_seconds(p) for p in pids)
        pin_check = check_pins(proxy.pid, s1, setting, args.cpus) if setting.pinned else None
        try:
            client.wait(timeout=max(5.0, total_s - (time.monotonic() - started) + 10))
        except subprocess.TimeoutExpired:
            raise RunFailed("client did not finish in time")
        summary = None
        with open(client.out_path) as f:
            for line in reversed(f.read().splitlines()):
                try:
                    summary = json.loads(line)
                    break
                except ValueError:
                    continue
        errors = client_errors(summary)
        if client.returncode != 0 or errors:
            raise RunFailed(f"client exit {client.returncode}, errors {errors}: {tail(client.err_path, 300)}"
                            + diagnose(sock, env))
        return measure(s0, s1, m0, m1, p0, p1, pin_check, summary)
    finally:
        procs.stop(client)
        procs.stop(proxy)
        env.stop_server()
