"""scripts/soak: tcp_ping_server + proxy + tcp_ping_client -n 0 for a long time, the proxy's stats
socket sampled every interval into an NDJSON log, then a verdict table (exit 1 if an invariant
broke). The container image's entrypoint; runs the same on the host. docs/soak.md has the rest."""

import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time

from spcore import net, procfs, stats
from spcore.children import Children
from spcore.modes import ModesUnknown, modes_of

from . import soak_args, soak_ready, soak_verdict
from .soak_churn import Churn

SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROLES = ("churn", "stream", "client", "proxy", "server")  # the order they are stopped in


def say(msg):
    print(f"soak: {msg}", file=sys.stderr, flush=True)


class CannotStart(Exception):
    """Exit 3: binaries missing, a process died at start, the stats socket never answered."""


def find_bin(name, bin_dir):
    """--bin/SOAK_BIN only, else <repo>/build/bin, else PATH."""
    if bin_dir:
        p = os.path.join(bin_dir, name)
        return p if os.access(p, os.X_OK) else None
    p = os.path.normpath(os.path.join(SCRIPTS, "..", "build", "bin", name))
    return p if os.access(p, os.X_OK) else shutil.which(name)


def pick_port(taken):
    """A port nobody uses, from 20000 up to the ephemeral range."""
    low = procfs.ephemeral_low()
    top = low - 1 if low > 20500 else 30999
    used = procfs.used_tcp_ports() | taken
    for _ in range(200):
        p = 20000 + random.randrange(top - 20000)
        if p not in used:
            return p
    raise CannotStart("no free port")


def write_verdict(log_dir, json_out):
    """verdict.json and the table from a log directory; the exit status (0 every invariant held)."""
    if not (os.path.isfile(os.path.join(log_dir, "meta.json")) and os.path.isfile(os.path.join(log_dir, "samples.ndjson"))):
        say(f"{log_dir}: no meta.json or samples.ndjson")
        return 3
    try:
        v = soak_verdict.from_dir(log_dir)
    except (soak_verdict.LogError, KeyError, TypeError, ValueError) as e:
        say(f"could not compute the verdict: {type(e).__name__}: {e}")
        return 1
    path = os.path.join(log_dir, "verdict.json")
    text = json.dumps(v, indent=2) + "\n"
    with open(path, "w") as f:
        f.write(text)
    if json_out:
        try:
            with open(json_out, "w") as f:
                f.write(text)
        except OSError as e:
            say(f"cannot write {json_out}: {e.strerror}")
    sys.stdout.write(soak_verdict.table(v))
    sys.stdout.flush()
    say(f"verdict: {path}; samples: {os.path.join(log_dir, 'samples.ndjson')}")
    return 0 if v["ok"] else 1


def progress(rec, tag, of, extra):
    t = str(int(rec["soak"]["t"])).rjust(5)
    tot, proc = rec["totals"], rec["process"]
    active = tot["connections_active"]
    cpu = "".join(f" w{w['id']} {soak_verdict.jround(w['cpu']['user_pct'])}/{soak_verdict.jround(w['cpu']['sys_pct'])}"
                  for w in rec.get("workers") or [])
    txt = soak_verdict.txt
    return (f"{tag} t={t}s{of}  {txt(soak_verdict.mb(tot['bytes_per_s']))} MB/s"
            f"  conns {active}/{tot['connections_total']}"
            f"  fds {proc['open_fds']} ({proc['open_fds'] - 2 * active}+2x{active})"
            f"  rss {txt(soak_verdict.mib(proc['rss_bytes']))} MiB  cpu%{cpu}{extra}")


class Soak:
    def __init__(self, s):
        self.s = s
        self.kids = Children(niceness=s["nice"], log=say)
        self.churn = None
        self.baseline = None  # client-only: the proxy's counters once it forwarded our first ping
        self.stop_requested = None
        self.t0 = time.monotonic()

    # ---- helpers --------------------------------------------------------------------------------
    def on_signal(self, signum, _frame):
        if self.stop_requested is None:
            self.stop_requested = signal.Signals(signum).name

    def elapsed(self):
        return round(time.monotonic() - self.t0, 3)

    def path(self, name):
        return os.path.join(self.log_dir, name)

    def launch(self, role, argv, out, err):
        try:
            self.kids.launch(role, argv, self.path(out), self.path(err))
        except OSError as e:
            raise CannotStart(f"cannot start {role} ({argv[0]}): {e.strerror}")

    def query(self):
        return stats.query(self.stats_host, self.stats_port, 5.0)

    def sleep_until(self, deadline):
        """Sleeps in short steps so that a signal is seen at once (its handler only sets a flag)."""
        while self.stop_requested is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.1))

    def tail(self, name, n=3):
        try:
            with open(self.path(name), errors="replace") as f:
                return " | ".join(f.read().splitlines()[-n:])
        except OSError:
            return ""

    # ---- phases ---------------------------------------------------------------------------------
    def setup(self):
        s = self.s
        self.client_bin = find_bin("tcp_ping_client", s["bin"])
        where = s["bin"] or os.path.join(SCRIPTS, "..", "build", "bin") + " or PATH"
        if not self.client_bin:
            raise CannotStart(f"no tcp_ping_client in {where} (--bin DIR or SOAK_BIN)")
        if not s["client_only"]:
            self.server_bin = find_bin("tcp_ping_server", s["bin"])
            self.proxy_bin = find_bin("proxy", s["bin"])
            if not self.server_bin:
                raise CannotStart(f"no tcp_ping_server in {where}")
            if not self.proxy_bin:
                raise CannotStart(f"no proxy in {where}")
        if s["nice"] and not shutil.which("nice"):
            raise CannotStart("needs 'nice' (Debian: coreutils)")
        try:
            if s["log_dir"]:
                os.makedirs(s["log_dir"], exist_ok=True)
                self.log_dir = os.path.abspath(s["log_dir"])
            else:
                self.log_dir = tempfile.mkdtemp(prefix="spliceproxy-soak.", dir=os.environ.get("TMPDIR") or "/tmp")
            for name in ("samples.ndjson", "churn.ndjson"):
                open(self.path(name), "w").close()
        except OSError as e:
            raise CannotStart(f"cannot create the log directory {s['log_dir'] or ''}: {e.strerror}")
        taken = {p for p in (s["server_port"], s["proxy_port"], s["stats_port"]) if p != "auto"}
        if not s["client_only"]:
            for key in ("server_port", "proxy_port", "stats_port"):
                if s[key] == "auto":
                    s[key] = pick_port(taken)
                    taken.add(s[key])
            host = "127.0.0.1" if s["listen"] == "0.0.0.0" else s["listen"]
            s["proxy"], s["stats"] = f"{host}:{s['proxy_port']}", f"{host}:{s['stats_port']}"
        self.stats_host, self.stats_port = soak_ready.split_addr(s["stats"])

    def start(self):
        s = self.s
        if not s["client_only"]:
            self.launch("server", [self.server_bin, "-s", f"127.0.0.1:{s['server_port']}", "-w", str(s["server_workers"])],
                        "server.out", "server.log")
            self.launch("proxy", [self.proxy_bin, "-s", f"{s['listen']}:{s['proxy_port']}", "-r",
                                  f"127.0.0.1:{s['server_port']}", "--mode", s["mode"], "-w", str(s["workers"]),
                                  "--stats", f"{s['listen']}:{s['stats_port']}", "--stats-interval",
                                  str(s["interval"])] + s["proxy_args"].split(), "proxy.out", "proxy.log")
            say(f"{s['mode']} mode, {s['workers']} workers; server 127.0.0.1:{s['server_port']}, "
                f"proxy {s['proxy']}, stats {s['stats']}")
        else:
            say(f"client-only: proxy {s['proxy']}, stats {s['stats']}")
        say(f"logs in {self.log_dir}")
        snap = self.wait_ready(s["wait"] if s["client_only"] else 10)
        if s["client_only"]:
            s["mode"], s["workers"] = snap.get("mode"), len(snap.get("workers") or [])
            self.baseline = soak_verdict.proxy_counters(snap)
            s["proxy"], s["stats"] = soak_ready.pinned(s["proxy"]), soak_ready.pinned(s["stats"])
            self.stats_host, self.stats_port = soak_ready.split_addr(s["stats"])
            say(f"proxy at {s['proxy']}, stats at {s['stats']} (resolved once)")
        rate = [] if float(s["rate"]) == 0 else ["--rate", s["rate"]]
        self.launch("client", [self.client_bin, "-s", s["proxy"], "-n", "0", "-c", str(s["connections"]), "-T",
                               str(s["client_threads"]), "-l", s["length"]] + rate + ["--json"],
                    "client.json", "client.err")
        if s["stream"] > 0:
            self.launch("stream", [self.client_bin, "-s", s["proxy"], "--mode", "stream", "-n", "0", "-c",
                                   str(s["stream"]), "-T", "1", "--json"], "stream.json", "stream.err")
        if s["churn"] > 0:
            self.churn = Churn([self.client_bin, "-s", s["proxy"], "-n", str(s["churn_count"]), "-c", str(s["churn"]),
                                "-T", "1", "-l", s["length"], "--json"], self.log_dir, s["nice"])
            self.churn.start()

    def wait_ready(self, limit):
        """Ready when the stats answer (with our proxy's pid) and the server accepts; client-only, when
        a proxy's stats answer and a ping comes back through it."""
        s = self.s
        deadline = time.monotonic() + limit
        why = f"its stats socket {s['stats']} did not answer"
        while time.monotonic() < deadline:
            if not s["client_only"]:
                if not self.kids.alive("server"):
                    raise CannotStart(f"tcp_ping_server exited at start: {self.tail('server.log')}")
                if not self.kids.alive("proxy"):
                    raise CannotStart(f"proxy exited at start: {self.tail('proxy.log')}")
            if self.stop_requested:
                raise CannotStart(f"stopped ({self.stop_requested}) before the proxy was ready")
            snap = self.query()
            if snap:
                if s["client_only"]:
                    if snap.get("program") != "proxy":
                        raise CannotStart(f"{s['stats']} is the stats socket of {snap.get('program')}, not of a proxy")
                    ok, err = soak_ready.ping_through(self.client_bin, s["proxy"], s["length"],
                                                      min(10.0, max(1.0, deadline - time.monotonic())))
                    if ok:
                        time.sleep(0.05)  # past the 20 ms a snapshot is reused: the probe's session is in it
                        return self.query() or snap
                    why = f"no ping came back through {s['proxy']} ({err})"
                    time.sleep(0.2)
                    continue
                if snap.get("pid") != self.kids.pid("proxy"):
                    raise CannotStart(f"another program answers on the stats port {s['stats']} (pid {snap.get('pid')})")
                if net.port_open("127.0.0.1", s["server_port"], 1.0):
                    return snap
            time.sleep(0.1)
        raise CannotStart(f"the proxy was not ready in {limit}s: {why}")

    def take_sample(self):
        """(snapshot or None, quiet, held). quiet: taken with only the long-lived connections open
        (the churn client held between rounds and its sessions gone), so open_fds is exact."""
        persistent = self.s["connections"] + self.s["stream"]
        quiet = False
        held = not self.s["shared"]  # shared: others' sessions come and go, no quiet moment to wait for
        if held and self.churn and self.churn.is_alive():
            held = self.churn.hold()
        snap, fails = None, 0
        try:
            for _ in range(60):  # its sessions close within 3 s
                snap = self.query()
                if snap is None:
                    fails += 1
                    if fails >= 2:
                        break
                    continue
                if held and snap["totals"]["connections_active"] == persistent:
                    quiet = True
                    break
                if not held:
                    break
                time.sleep(0.05)
        finally:
            if self.churn:
                self.churn.release()
        if snap is None:
            snap = self.query()
        return snap, quiet, held

    def sample_loop(self):
        s = self.s
        self.t0 = time.monotonic()  # the run's clock starts with the load
        tag, of = f"[{s['mode']}]", f"/{s['duration']}s" if s["duration"] else ""
        self.misses, tick = 0, 0
        while True:
            tick += 1
            due = tick * s["interval"]
            if s["duration"] and due > s["duration"]:
                due = s["duration"]
            self.sleep_until(self.t0 + due)
            if self.stop_requested:
                return self.stop_requested
            t = self.elapsed()
            snap, quiet, held = self.take_sample()
            if snap:
                rec = dict(snap, soak={"t": t, "phase": "run", "quiet": quiet, "held": held})
                with open(self.path("samples.ndjson"), "a") as f:
                    f.write(json.dumps(rec, separators=(",", ":")) + "\n")
                extra = ""
                if self.churn:
                    extra = f"  churn {self.churn.rounds} rounds, {self.churn.failed} failed"
                print(progress(rec, tag, of, extra), flush=True)
            else:
                self.misses += 1
                say(f"t={t:.3f}s: no answer from the stats socket {s['stats']}")
            dead = [r for r in ("server", "proxy", "client", "stream") if r in self.kids.procs and not self.kids.alive(r)]
            if self.churn and not self.churn.is_alive():
                dead.append("churn")
            if dead:
                reason = "exited early: " + " ".join(dead)
                say(reason)
                return reason
            if s["duration"] and time.monotonic() - self.t0 >= s["duration"] - 0.05:
                return "duration"

    def stop_and_drain(self, reason):
        """Stops the load, then checks that the proxy drains; the final sample and the drain time."""
        run_s = self.elapsed()
        say(f"stopping ({reason}) after {run_s:.3f}s")
        if self.churn:
            self.churn.stop(15)
        # once: a second SIGINT makes the client drop everything
        self.kids.signal("client", signal.SIGINT)
        self.kids.signal("stream", signal.SIGINT)
        self.kids.finish("client", 15, self.log_dir)
        self.kids.finish("stream", 15, self.log_dir)
        drain_s, final, t0 = None, None, time.monotonic()
        for _ in range(1 if self.s["shared"] else 100):  # 10 s; shared: others' sessions stay
            snap = self.query()
            if snap:
                final = snap
                if snap["totals"]["connections_active"] == 0:
                    drain_s = round(time.monotonic() - t0, 3)
                    break
            time.sleep(0.1)
        if final:
            with open(self.path("samples.ndjson"), "a") as f:
                f.write(json.dumps(dict(final, soak={"t": self.elapsed(), "phase": "final"}), separators=(",", ":")) + "\n")
        if not self.s["client_only"]:
            self.kids.stop("proxy", signal.SIGTERM, 15, self.log_dir)
            self.kids.stop("server", signal.SIGTERM, 15, self.log_dir)
        return run_s, drain_s

    def meta(self, reason, run_s, drain_s):
        s, rc = self.s, self.kids.rc
        return {"mode": s["mode"], "workers": s["workers"], "client_only": s["client_only"],
                "shared": s["shared"], "baseline_counters": self.baseline,
                "duration_s": s["duration"], "run_s": run_s, "interval_s": s["interval"], "warmup_s": s["warmup"],
                "connections": s["connections"], "client_threads": s["client_threads"], "length": s["length"],
                "rate": s["rate"], "stream_connections": s["stream"], "churn_connections": s["churn"],
                "stop_reason": reason, "stats_misses": self.misses, "drain_s": drain_s,
                "proxy": s["proxy"], "stats": s["stats"], "log_dir": self.log_dir,
                "tolerances": {"fd_max_minus_min": s["fd_tolerance"], "rss_growth_pct": s["rss_pct"],
                               "rss_growth_mib": s["rss_mib"]},
                "exit_codes": {"client": rc("client"), "stream": rc("stream"), "proxy": rc("proxy"),
                               "server": rc("server")}}

    def run(self):
        self.setup()
        self.start()
        reason = self.sample_loop()
        run_s, drain_s = self.stop_and_drain(reason)
        with open(self.path("meta.json"), "w") as f:
            json.dump(self.meta(reason, run_s, drain_s), f, indent=2)
            f.write("\n")
        return write_verdict(self.log_dir, self.s["json_out"])

    def cleanup(self):
        if self.churn and self.churn.is_alive():
            self.churn.stop(5)
        self.kids.stop_all(ROLES, timeout=5, hang_dir=getattr(self, "log_dir", None))


def known_modes(bin_dir):
    """The proxy's modes, from its -h when a proxy binary is at hand."""
    proxy = find_bin("proxy", bin_dir)
    if proxy:
        try:
            return modes_of(proxy)
        except ModesUnknown:
            pass
    return soak_args.DEFAULT_MODES


def main(argv, env=None):
    env = os.environ if env is None else env
    try:
        raw = soak_args.raw_settings(argv, env)
        if raw == "help":
            try:
                print(soak_args.usage(known_modes(env.get("SOAK_BIN", ""))))
            except BrokenPipeError:  # scripts/soak -h | head
                pass
            return 0
        if raw["report"]:  # only the verdict of an earlier run
            return write_verdict(raw["report"], raw["json_out"])
        settings = soak_args.check(raw, known_modes(raw["bin"]))
    except soak_args.UsageError as e:
        print(f"soak: {e}\n{soak_args.usage()}", file=sys.stderr)
        return 2
    soak = Soak(settings)
    signal.signal(signal.SIGINT, soak.on_signal)
    signal.signal(signal.SIGTERM, soak.on_signal)
    try:
        return soak.run()
    except CannotStart as e:
        say(str(e))
        return 3
    finally:
        soak.cleanup()
