"""scripts/demo: every pump mode of the proxy, interleaved repetitions of a bulk stream and of the
seed's 1 KiB ping-pong, medians with min-max, the proxy's and the machine's CPU per GB, a verdict
per workload. The arithmetic is in demo_logic."""

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from spcore import net, procfs, stats
from spcore.children import Children
from spcore.modes import ModesUnknown, modes_of

from . import demo_logic
from .client_json import summary_of

PROG = "demo"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "127.0.0.1"
SERVER_PORT, PROXY_PORT, STATS_PORT = 9999, 9998, 9997  # the seed's

USAGE = f"""usage: demo [options]
The seed's experiment, measured so that it does not mislead: an echo server on {HOST}:{SERVER_PORT},
the proxy on :{PROXY_PORT} (stats :{STATS_PORT}) in every mode it offers (read from `proxy -h`), and
tcp_ping_client through it. Repetitions are interleaved (rw splice auto, rw splice auto, ...);
each mode's figures are the median with the min-max of its runs, and the verdict says "within
noise" when the ranges overlap. First installs what is missing (scripts/setup-deps) and builds
(scripts/build build), unless --bin is given.

  -n COUNT      pings per ping-pong run, one connection (default: 10000, the seed's test)
  -l LENGTH     ping size in bytes, K suffix allowed (default: 1024)
  -t SECONDS    length of each bulk-stream run, 64 KiB writes on one connection (default: 3)
  -r REPS       interleaved repetitions per mode, at least 3 (default: 3)
  --modes LIST  comma-separated modes to compare (default: every mode `proxy -h` lists)
  --json FILE   also write every run and the summaries as JSON to FILE (default: none)
  --bin DIR     the proxy, tcp_ping_server and tcp_ping_client to use; skips setup-deps and the
                build (default: build them into build/bin)
  -h, --help    this help

Throughput: bulk in MB/s of payload echoed back to the client (each byte crossed the proxy twice);
ping-pong in round trips per second. proxy CPU s/GB: the proxy process's CPU seconds per GB of
that payload (does the proxy itself work less?); machine CPU s/GB: all cores' busy time, client,
server and kernel included (what does the machine pay?). Ctrl-C stops cleanly.
Exit status: 0 done, 1 a run failed, 2 bad command line, 130 interrupted."""


class Usage(Exception):
    pass


def parse_args(argv):
    opts = {"count": 10000, "length": 1024, "seconds": 3, "reps": 3, "modes": None, "json": None,
            "bin": None, "help": False}
    checks = {"-n": ("count", 1, 10_000_000, False, "a whole number of pings, 1..10000000"),
              "-l": ("length", 1, 1 << 20, True, "bytes 1..1M, K/M suffixes"),
              "-t": ("seconds", 1, 60, False, "whole seconds 1..60"),
              "-r": ("reps", 3, 50, False, "3..50: fewer runs give no range worth the name")}
    args = list(argv)
    while args:
        a = args.pop(0)
        if a in ("-h", "--help"):
            opts["help"] = True
            continue
        if a.startswith("--") and "=" in a:
            a, v = a.split("=", 1)
            args.insert(0, v)
        if a not in checks and a not in ("--modes", "--json", "--bin"):
            raise Usage(f"unknown option '{a}'")
        if not args:
            raise Usage(f"option '{a}' needs a value")
        v = args.pop(0)
        if a in checks:
            key, lo, hi, suffixes, what = checks[a]
            n = demo_logic.parse_count(v, lo, hi, suffixes)
            if n is None:
                raise Usage(f"bad {a} '{v}' ({what})")
            opts[key] = n
        elif a == "--modes":
            modes = [m for m in v.split(",") if m]
            if not modes or any(not m.replace("_", "").isalnum() for m in modes):
                raise Usage(f"bad --modes '{v}' (comma-separated mode names)")
            opts["modes"] = modes
        elif not v:
            raise Usage(f"option '{a}' needs a value")
        else:
            opts[a[2:]] = v
    return opts


def say(msg):
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


class RunFailed(Exception):
    pass


class Demo:
    def __init__(self, opts, bin_dir, modes, log_dir):
        self.o, self.bin, self.modes, self.log_dir = opts, bin_dir, modes, log_dir
        self.kids = Children(log=say)
        self.runs = []  # every run, in the order they ran
        # Runs whose client reported an error: a result of that mode (sockmap resets a session its
        # kernel queue overflows), shown beside the tables rather than ending the demo.
        self.failures = []

    def path(self, name):
        return os.path.join(self.log_dir, name)

    def wait_until(self, what, ok, role, limit=10.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not self.kids.alive(role):
                raise RunFailed(f"{role} exited at start: {tail(self.path(role + '.err'))}")
            if ok():
                return
            time.sleep(0.05)
        raise RunFailed(f"{what} did not answer in {limit:g} s")

    def start_server(self):
        self.kids.launch("server", [os.path.join(self.bin, "tcp_ping_server"), "-s", HOST],
                         self.path("server.out"), self.path("server.err"))
        self.wait_until(f"tcp_ping_server on {HOST}:{SERVER_PORT}",
                        lambda: net.port_open(HOST, SERVER_PORT, 0.5), "server")

    def start_proxy(self, mode):
        self.kids.launch("proxy", [os.path.join(self.bin, "proxy"), "-s", HOST, "-r", HOST, "--mode", mode],
                         self.path("proxy.out"), self.path("proxy.err"), err_mode="a")
        pid = self.kids.pid("proxy")
        # Ready when its stats socket answers with its own pid: a stray proxy is not measured.
        self.wait_until(f"the {mode} proxy's stats socket {HOST}:{STATS_PORT}",
                        lambda: (stats.query(HOST, STATS_PORT, 1.0) or {}).get("pid") == pid, "proxy")

    def proxy_cpu(self):
        """(CPU seconds so far, where they came from, the mode in effect, the workers' counters summed)
        of the running proxy."""
        snap = stats.query(HOST, STATS_PORT, 2.0)
        counters = stats.worker_counters(snap)
        cpu = ((snap or {}).get("process") or {}).get("cpu") or {}
        if isinstance(cpu.get("user_s"), (int, float)) and isinstance(cpu.get("sys_s"), (int, float)):
            return cpu["user_s"] + cpu["sys_s"], "stats socket", snap.get("mode_effective"), counters
        return procfs.pid_cpu_s(self.kids.pid("proxy")), "/proc/PID/stat", None, counters

    def client(self, workload):
        c = [os.path.join(self.bin, "tcp_ping_client"), "-s", f"{HOST}:{PROXY_PORT}", "--json"]
        if workload == "bulk":
            return c + ["--mode", "stream", "-t", str(self.o["seconds"])], self.o["seconds"] + 30
        return c + ["-n", str(self.o["count"]), "-l", str(self.o["length"])], 120

    def measure(self, mode, workload, rep):
        argv, limit = self.client(workload)
        p0, source, _, c0 = self.proxy_cpu()
        m0 = procfs.machine_busy_s()
        self.kids.launch("client", argv, self.path("client.out"), self.path("client.err"))
        if not self.kids.reap("client", limit):
            self.kids.stop("client", signal.SIGTERM, 5)
            raise RunFailed(f"{workload} client through {mode} still running after {limit} s")
        m1 = procfs.machine_busy_s()
        p1, _, effective, c1 = self.proxy_cpu()
        rc = self.kids.rc("client")
        summary = summary_of(self.path("client.out"))
        if rc != 0 or not summary or summary.get("ok") is not True:
            why = (summary or {}).get("first_error") or tail(self.path("client.err")) or f"exit {rc}"
            self.failures.append({"mode": mode, "workload": workload, "rep": rep, "error": why,
                                  "mode_effective": effective or mode})
            return None
        fig = demo_logic.run_figures(summary, p1 - p0 if None not in (p0, p1) else None, m1 - m0)
        fig.update(mode=mode, workload=workload, rep=rep, cpu_source=source, mode_effective=effective or mode,
                   client=argv[1:])
        if fig["mode_effective"] == "sockmap":
            if demo_logic.sent_to_splice(c0, c1):
                fig["mode_effective"] = "splice"  # the kernel relay declined the session (docs/sockmap.md)
            else:
                fig["kernel_relayed_pct"] = demo_logic.kernel_relayed_pct(c0, c1)
        self.runs.append(fig)
        return fig

    def run(self):
        o, total = self.o, self.o["reps"] * len(self.modes) * 2
        self.start_server()
        for rep in range(1, o["reps"] + 1):
            for mode in self.modes:
                self.start_proxy(mode)
                for workload in ("bulk", "pingpong"):
                    f = self.measure(mode, workload, rep)
                    done = len(self.runs) + len(self.failures)
                    if f is None:
                        say(f"[{done:2d}/{total}] rep {rep}/{o['reps']} {mode:<7} {WORKLOAD_NAMES[workload]:<10} "
                            f"FAILED: {self.failures[-1]['error']}")
                        continue
                    eff = f" (in effect: {f['mode_effective']})" if f["mode_effective"] != mode else ""
                    if f.get("kernel_relayed_pct") is not None:
                        eff += f"; the kernel relayed {f['kernel_relayed_pct']:.0f} %"
                    what = (f"{f['mb_per_s']:.0f} MB/s" if workload == "bulk"
                            else f"{f['round_trips_per_s']:.0f} round trips/s, p50 {f['p50_us']:.1f} us")
                    say(f"[{done:2d}/{total}] rep {rep}/{o['reps']} {mode:<7} {WORKLOAD_NAMES[workload]:<10} "
                        f"{what}; proxy {fmt_opt(f['proxy_cpu_s_per_gb'])}, machine "
                        f"{fmt_opt(f['machine_cpu_s_per_gb'])} CPU-s/GB{eff}")
                self.kids.stop("proxy", signal.SIGTERM, 10)


WORKLOAD_NAMES = {"bulk": "bulk", "pingpong": "ping-pong"}


def fmt_opt(v, fmt="{:.2f}"):
    return "-" if v is None else fmt.format(v)


def failures_by(failures):
    """{(mode, workload): [error, ...]} in the order they happened."""
    out = {}
    for f in failures:
        out.setdefault((f["mode"], f["workload"]), []).append(f["error"])
    return out


def tail(path, n=300):
    try:
        with open(path, errors="replace") as f:
            return " ".join(f.read()[-n:].split())
    except OSError:
        return ""


def results(demo):
    o = demo.o
    out = {}
    for workload in ("bulk", "pingpong"):
        by_mode = {m: [r for r in demo.runs if r["mode"] == m and r["workload"] == workload] for m in demo.modes}
        by_mode = {m: rs for m, rs in by_mode.items() if rs}
        if by_mode:
            out[workload] = demo_logic.workload_result(workload, by_mode)
    titles = {"bulk": f"bulk stream: tcp_ping_client --mode stream -t {o['seconds']} (64 KiB writes, 1 connection)",
              "pingpong": f"ping-pong: tcp_ping_client -n {o['count']} -l {o['length']} (1 connection)"}
    return out, titles


def machine():
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), None)
    except OSError:
        pass
    return {"cpu_model": model, "cpus": os.cpu_count(), "kernel": platform.release()}


def prepare(opts):
    """The binaries (built unless --bin) and the modes to compare."""
    bin_dir = opts["bin"]
    if bin_dir is None:
        for step in (["scripts/setup-deps"], ["scripts/build", "build"]):
            say(" ".join(step))
            if subprocess.run(step, cwd=REPO).returncode != 0:
                raise RunFailed(f"{' '.join(step)} failed")
        bin_dir = os.path.join(REPO, "build", "bin")
    for name in ("proxy", "tcp_ping_server", "tcp_ping_client"):
        if not os.access(os.path.join(bin_dir, name), os.X_OK):
            raise RunFailed(f"no {name} in {bin_dir}")
    offered = modes_of(os.path.join(bin_dir, "proxy"))
    modes = opts["modes"] or offered
    unknown = [m for m in modes if m not in offered]
    if unknown:
        raise Usage(f"bad --modes: the proxy has no mode {', '.join(unknown)} (it offers {', '.join(offered)})")
    busy = sorted({SERVER_PORT, PROXY_PORT, STATS_PORT} & procfs.used_tcp_ports(listening_only=True))
    if busy:
        raise RunFailed(f"{HOST} port(s) {', '.join(map(str, busy))} already in use: stop what listens there first")
    return bin_dir, modes


def interrupt(_sig, _frame):
    raise KeyboardInterrupt


def main(argv):
    try:
        opts = parse_args(argv)
    except Usage as e:
        print(f"{PROG}: {e}\n{USAGE}", file=sys.stderr)
        return 2
    if opts["help"]:
        print(USAGE)
        return 0
    # SIGTERM stops it like a Ctrl-C (set here too: a shell starts background jobs with SIGINT
    # ignored): the children are ended by PID on the way out.
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    demo, status, t0 = None, 0, time.monotonic()
    try:
        bin_dir, modes = prepare(opts)
        log_dir = tempfile.mkdtemp(prefix="spliceproxy-demo.")
        demo = Demo(opts, bin_dir, modes, log_dir)
        say(f"modes {', '.join(modes)} (from proxy -h); {opts['reps']} interleaved repetitions; "
            f"{len(modes) * opts['reps'] * 2} runs of about {opts['seconds']} s (bulk) and "
            f"{opts['count']} pings (ping-pong); logs in {log_dir}")
        demo.run()
    except Usage as e:
        print(f"{PROG}: {e}\n{USAGE}", file=sys.stderr)
        return 2
    except (RunFailed, ModesUnknown, OSError) as e:
        say(str(e))
        status = 1
    except KeyboardInterrupt:
        say("interrupted: stopping what it started")
        status = 130
    finally:
        if demo:
            demo.kids.stop_all(["client", "proxy", "server"], timeout=10)
    if not demo or not demo.runs:
        return status or 1
    summaries, titles = results(demo)
    print()
    for workload, res in summaries.items():
        counts = sorted({m["runs"] for m in res["modes"].values()})
        runs = "-".join(map(str, (counts[0], counts[-1]) if len(counts) > 1 else counts))
        print(demo_logic.table(workload, f"{titles[workload]}, {runs} runs per mode: median (min-max)", res,
                               demo_logic.effective_labels(demo.runs)))
        print()
    if demo.failures:
        print("runs that failed (a result of the mode, not of the demo):")
        for (mode, workload), errors in failures_by(demo.failures).items():
            print(f"  {mode} {WORKLOAD_NAMES[workload]}: {len(errors)} of {demo.o['reps']} failed, first: {errors[0]}")
        print()
    share = demo_logic.kernel_share_line(demo.runs, WORKLOAD_NAMES)
    if share:
        print(share)
        print()
    if any(r["mode"] == "sockmap" and r["mode_effective"] == "splice" for r in demo.runs):
        print("sockmap sessions were relayed with splice: the kernel's TCP memory was past --sockmap-tcp-memory "
              "(two-way bulk through the kernel relay leaks it), or the kernel would not take them; the proxy's "
              "log says which (docs/sockmap.md)")
        print()
    failed = f" (and {len(demo.failures)} that failed)" if demo.failures else ""
    print(f"{len(demo.runs)} runs{failed} in {time.monotonic() - t0:.0f} s on {machine()['cpu_model']}; "
          "machine CPU counts every core: client, server, kernel and anything else running.")
    if status == 130:
        print("(interrupted: these are the runs done so far)")
    if opts["json"]:
        doc = {"machine": machine(), "settings": {k: v for k, v in opts.items() if k not in ("help", "json")},
               "modes": demo.modes, "complete": status == 0, "runs": demo.runs, "failures": demo.failures, "workloads": summaries}
        try:
            with open(opts["json"], "w") as f:
                json.dump(doc, f, indent=2)
                f.write("\n")
            say(f"results: {opts['json']}")
        except OSError as e:
            say(f"cannot write {opts['json']}: {e}")
            status = status or 1
    if status == 0:
        shutil.rmtree(demo.log_dir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
