"""One benchmark run after another: start backend -> path -> client, measure, end them by PID,
keep every run's raw JSON (failed ones too)."""

import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from spcore import stats
from spcore.children import Children, tail, wait_rusage
from spcore.net import free_ports
from spcore.procfs import listening_ports

from . import paths as P
from . import workloads as W
from .sample import Sampler, cpu_delta
from .startup import StartupError, wait_listen
from .util import GB, NCPU, log, now_iso, read_text

BINS = ("proxy", "tcp_ping_server", "tcp_ping_client")


def snapshot_bins(src, dst):
    """Copies our binaries aside for the whole run: others may rebuild build/bin meanwhile, and a
    binary changing between repetitions would make them incomparable."""
    os.makedirs(dst, exist_ok=True)
    facts = {}
    for b in BINS:
        p = os.path.join(src, b)
        if not os.path.exists(p):
            facts[b] = None
            continue
        shutil.copy2(p, os.path.join(dst, b))
        with open(p, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        facts[b] = {"sha256": digest[:16],
                    "mtime": datetime.datetime.fromtimestamp(os.path.getmtime(p)).astimezone()
                    .isoformat(timespec="seconds")}
    return dst, facts


def client_supports_contract(client):
    try:
        r = subprocess.run([client, "-h"], capture_output=True, timeout=10, text=True)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"cannot run {client} -h: {e}"
    text = r.stdout + r.stderr
    missing = [f for f in ("--json", "--warmup", "--mode", "stream") if f not in text]
    if missing:
        return False, "tcp_ping_client lacks " + ", ".join(missing) + " (contract not landed yet)"
    return True, ""


def machine_busy(delta):
    """The machine's busy CPU seconds over a window: spcore's definition (steal counted) where the
    samples have it, user + sys in runs recorded before it."""
    return delta["busy_s"] if "busy_s" in delta else delta["user_s"] + delta["sys_s"]


class Bench:
    def __init__(self, args, out):
        self.a = args
        self.out = out
        self.raw = os.path.join(out, "raw")
        self.tmp = os.path.join(out, "raw-tmp")
        os.makedirs(self.raw, exist_ok=True)
        os.makedirs(self.tmp, exist_ok=True)
        self.procs = Children(start_error=StartupError)
        self.bin, self.bin_facts = snapshot_bins(os.path.abspath(args.bin_dir), os.path.join(self.tmp, "bin"))
        self.runs = []
        self.stats_seen = None  # None: not tried yet; True/False after the first proxy run
        self.client_ok, self.client_reason = client_supports_contract(os.path.join(self.bin, "tcp_ping_client"))
        self.local_backend = args.server_host is None
        self._scratch = None
        self._big_sha = None
        self.rate_seen = {}  # workload -> the last ok run's rate (redis-benchmark's request count)

    # ---- setup of one run

    def start_backend(self, wl, port, tag):
        argv = self.taskset(self.a.pin_server) + W.backend_argv(self, wl, self.a.server_bind, port, tag)
        p = self.procs.start("backend", argv, os.path.join(self.tmp, f"{tag}.backend"), cwd=self.tmp)
        wait_listen(p, port)
        return p

    def scratch(self):
        """Where fetched files land: memory (tmpfs) when the machine has it, so that writing them
        costs no disk writeback that would land in the CPU figures."""
        if self._scratch is None:
            base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else self.tmp
            self._scratch = tempfile.mkdtemp(prefix="spliceproxy-bench-", dir=base)
        return self._scratch

    def docroot(self):
        """nginx's document root: small.bin (the wrk workload's file) and big.bin (curl's), made
        once per bench run."""
        root = os.path.join(self.scratch(), "www")
        if not os.path.isdir(root):
            os.makedirs(root)
            small = max(w.get("file_size", 0) for w in W.WORKLOADS.values() if w["kind"] == "wrk")
            W.make_data_file(os.path.join(root, "small.bin"), small)
        return root

    def big_sha256(self):
        if self._big_sha is None:
            size = max(w.get("file_size", 0) for w in W.WORKLOADS.values() if w["kind"] == "curl")
            self._big_sha = W.make_data_file(os.path.join(self.docroot(), "big.bin"), size)
        return self._big_sha

    def cleanup(self):
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def taskset(self, cpus):
        return ["taskset", "-c", cpus] if cpus else []

    def start_path(self, path, workers, bhost, bport, pport, sport, tag):
        listen = self.a.proxy_listen
        kind = P.get(path).kind
        if kind == "direct":
            return None, None
        if kind == "ours":
            argv = [os.path.join(self.bin, "proxy"), "-s", listen, "-p", str(pport), "-r", bhost,
                    "-c", str(bport), "-w", str(workers), "--stats", f"127.0.0.1:{sport}", "--grace", "1"]
            flags = P.proxy_flags(path, self.a.busy_poll)
            # the run-wide sizes, unless the path is a variant of that very size
            for knob, value in (("--pipe-size", self.a.pipe_size), ("--buffer-size", self.a.buffer_size)):
                if value and knob not in flags:
                    argv += [knob, value]
            argv += flags
            if self.a.pin:
                argv += ["--pin", self.a.pin]
            argv += self.a.proxy_arg
        else:
            cfg = os.path.join(self.tmp, f"{tag}.haproxy.cfg")
            with open(cfg, "w") as f:
                f.write(P.haproxy_config(path, workers, listen, pport, bhost, bport, self.a.pin))
            argv = ["haproxy", "-f", cfg, "-db"]
        p = self.procs.start("proxy", argv, os.path.join(self.tmp, f"{tag}.proxy"), cwd=self.tmp)
        wait_listen(p, pport)  # the proxy always runs here: /proc/net/tcp shows its listener
        stats_addr = None
        if kind == "ours":
            # Our stats socket, if this build has it: checked on every run, the source recorded.
            deadline = time.monotonic() + (0.5 if self.stats_seen is not False else 0.1)
            while time.monotonic() < deadline:
                if sport in listening_ports():
                    if stats.query("127.0.0.1", sport, timeout=1.0) is not None:
                        stats_addr = ("127.0.0.1", sport)
                    break
                time.sleep(0.02)
            if self.stats_seen is None or (stats_addr and not self.stats_seen):
                self.stats_seen = stats_addr is not None
        return p, stats_addr

    # ---- one run

    def run_one(self, seq, total, path, wname, workers, rep, phase):
        wl = W.WORKLOADS[wname]
        tag = f"{seq:04d}-{path}-{wname}-w{workers}-r{rep}"
        rec = {"id": tag, "seq": seq, "phase": phase, "path": path, "workload": wname, "workers": workers,
               "rep": rep, "started_at": now_iso(), "status": "failed", "error": None, "attempts": 0}
        if wl["kind"] in ("ping", "mixed") and not self.client_ok:
            rec.update(status="skipped", error=self.client_reason)
            return self.finish(rec, None, total)
        extra = {}
        for attempt in range(1, 4):
            rec["attempts"] = attempt
            backend = proxy = client = None
            try:
                bport, pport, sport = free_ports(3)
                if self.local_backend:
                    backend = self.start_backend(wl, bport, tag)
                    bhost = self.a.server_bind
                else:
                    bhost = self.a.server_host
                    bport = {"ping": self.a.echo_port, "mixed": self.a.echo_port, "iperf3": self.a.iperf3_port,
                             "sockperf": self.a.sockperf_port, "redis": self.a.redis_port,
                             "wrk": self.a.http_port, "curl": self.a.http_port}[wl["kind"]]
                proxy, stats_addr = self.start_path(path, workers, bhost, bport, pport, sport, tag)
                if path == "direct":
                    thost, tport = bhost, bport
                else:
                    thost = self.a.proxy_host or (self.a.proxy_listen if self.a.proxy_listen != "0.0.0.0"
                                                  else "127.0.0.1")
                    tport = pport
                W.prepare(wl, bhost, bport)
                argv, window, post = W.client_argv(self, wl, thost, tport, tag)
                argv = self.taskset(self.a.pin_client) + argv
                sampler = Sampler(proxy, stats_addr, {"backend": backend})
                rec["argv"] = {"client": argv, "proxy": proxy.argv if proxy else None,
                               "backend": backend.argv if backend else None}
                rec["cpu_source"] = ("none (no proxy)" if proxy is None else
                                     "stats-socket" if stats_addr else "/proc/PID/stat")
                rec["cpu_window"] = window
                limit = self.a.warmup + self.a.duration + self.a.run_timeout
                s0 = sampler.sample()
                t0 = time.monotonic()
                client = self.procs.start("client", argv, os.path.join(self.tmp, f"{tag}.client"), cwd=self.tmp)
                sampler.others["client"] = client
                if window == "after_warmup" and self.a.warmup > 0:
                    wait_rusage(client, self.a.warmup)
                    s0 = sampler.sample()
                ru = wait_rusage(client, max(0.1, limit - (time.monotonic() - t0)))
                if ru is None:
                    rec["error"] = f"client timed out after {limit:.0f}s (killed)"
                s1 = sampler.sample()
                if ru is not None:
                    s1["procs"]["client"] = ru
                proxy_alive = proxy is None or proxy.poll() is None
                rc = self.procs.stop(client, timeout=1.0)
                rec["client_exit"] = rc
                rec["wall_s"] = round(time.monotonic() - t0, 3)
                stdout = read_text(client.out_path)
                stderr = tail(client.err_path, 3000)
                if not proxy_alive:
                    rec["error"] = "; ".join(x for x in (rec["error"], f"proxy exited during the run with {proxy.returncode}") if x)
                self.measure(rec, wl, stdout, stderr, rc, s0, s1, extra, post)
                if stats_addr and s1.get("stats_snapshot"):
                    extra["proxy_stats_final"] = s1["stats_snapshot"]
                break
            except StartupError as e:
                rec["error"] = f"startup (attempt {attempt}): {e}"
                extra.setdefault("startup_errors", []).append(str(e))
                continue
            finally:
                for p in (client, proxy, backend):
                    if p is not None:
                        code = self.procs.stop(p)
                        if p is proxy:
                            rec["proxy_exit"] = code
                if proxy is not None:
                    ptail = tail(proxy.err_path, 3000) + tail(proxy.out_path, 1000)
                    if rec["status"] != "ok" or re.search(r"error|warn|fatal|abort|sanitizer", ptail, re.I):
                        extra["proxy_log_tail"] = ptail
                if backend is not None and rec["status"] != "ok":
                    extra["backend_log_tail"] = tail(backend.err_path, 1500)
        return self.finish(rec, extra, total)

    def measure(self, rec, wl, stdout, stderr, rc, s0, s1, extra, post):
        problems = []
        try:
            m, raw, problems = W.parse(wl, stdout, post)
        except (ValueError, KeyError, TypeError) as e:
            rec["error"] = "; ".join(x for x in (rec["error"], f"unparsable client output: {e}") if x)
            extra["client_stdout_tail"] = stdout[-3000:]
            extra["client_stderr_tail"] = stderr
            return
        extra["client_output"] = raw
        if stderr.strip():
            extra["client_stderr_tail"] = stderr
        if rc not in (0, None):
            problems.append(f"client exit code {rc}")
        if not (m.get("bytes_oneway") or m.get("msg_per_s")):
            problems.append("no bytes moved")
        window = s1["t"] - s0["t"]
        cpu = {"window_s": round(window, 4)}
        cpu["proc"] = cpu_delta(s0, s1, "proc")
        cpu["stats"] = cpu_delta(s0, s1, "stats_cpu")
        cpu["machine"] = cpu_delta(s0, s1, "machine")
        roles = {}
        for role in ("client", "backend", "proxy"):
            b = s1["procs"].get(role)
            if b:
                a0 = s0["procs"].get(role) or {"user_s": 0.0, "sys_s": 0.0}
                roles[role] = round(b["user_s"] - a0["user_s"] + b["sys_s"] - a0["sys_s"], 4)
        cpu["roles_s"] = roles
        if cpu["machine"] and window > 0:
            busy = machine_busy(cpu["machine"]) - cpu["machine"].get("irq_s", 0)
            # CPU the machine spent outside client, backend and proxy, irq/softirq time left out (on
            # loopback that is the TCP stack working for them): other users of the machine
            m["other_busy_pct"] = max(0.0, 100.0 * (busy - sum(roles.values())) / (window * NCPU))
            m["softirq_busy_pct"] = 100.0 * cpu["machine"].get("irq_s", 0) / (window * NCPU)
        if s0.get("stats_bytes") is not None and s1.get("stats_bytes") is not None:
            m["proxy_stats_bytes"] = s1["stats_bytes"] - s0["stats_bytes"]
        if s0.get("stats_counters") is not None and s1.get("stats_counters") is not None:
            c0, c1 = s0["stats_counters"], s1["stats_counters"]
            m["proxy_counters"] = {k: v - c0.get(k, 0) for k, v in c1.items()}
        used = cpu["stats"] if rec["cpu_source"] == "stats-socket" and cpu["stats"] else cpu["proc"]
        if rec["cpu_source"] == "stats-socket" and not cpu["stats"]:
            rec["cpu_source"] = "/proc/PID/stat (stats snapshot failed)"
        gbytes = (m.get("bytes_oneway") or 0) / GB
        if used:
            m["proxy_cpu_s"] = {"user": used["user_s"], "sys": used["sys_s"],
                                "total": used["user_s"] + used["sys_s"]}
        machine_s = machine_busy(cpu["machine"]) if cpu["machine"] else None
        if used and gbytes > 0:
            m["cpu_s_per_gb"] = {k: v / gbytes for k, v in m["proxy_cpu_s"].items()}
        if machine_s is not None and gbytes > 0:
            m["machine_cpu_s_per_gb"] = machine_s / gbytes
        # request workloads (redis-benchmark has no byte counts): CPU per request as well
        if m.get("requests"):
            if used:
                m["cpu_us_per_request"] = 1e6 * m["proxy_cpu_s"]["total"] / m["requests"]
            if machine_s is not None:
                m["machine_cpu_us_per_request"] = 1e6 * machine_s / m["requests"]
        m["cpu"] = cpu
        rec["metrics"] = m
        if problems or rec["error"]:
            rec["error"] = "; ".join(x for x in [rec["error"]] + problems if x)
            rec["status"] = "failed"
        else:
            rec["status"] = "ok"

    def finish(self, rec, extra, total):
        rec["finished_at"] = now_iso()
        if rec["status"] == "ok" and rec["metrics"].get("msg_per_s"):
            self.rate_seen[rec["workload"]] = rec["metrics"]["msg_per_s"]
        self.runs.append(rec)
        doc = dict(rec)
        if extra:
            doc["raw"] = extra
        with open(os.path.join(self.raw, rec["id"] + ".json"), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
        log(progress_line(rec, total))
        return rec

    # ---- plan

    def plan(self):
        return plan(self.a)


def size_variants(a, w):
    """The size-sweep paths of workload w: every selected path with a size knob at every size."""
    if w not in a.size_sweep_workloads:
        return []
    return [P.sized(p, n) for p in a.size_sweep_paths for n in a.sizes]


def plan(a):
    """Every run as (path, workload, workers, rep, phase), interleaved: per repetition, per
    workload, every path in turn (A B C D E, A B C D E, ...), the size variants among them."""
    items = []
    for rep in range(1, a.reps + 1):
        for w in a.workloads:
            for p in a.paths + size_variants(a, w):
                items.append((p, w, a.main_workers, rep, "main" if "@" not in p else "size-sweep"))
        if not a.no_sweep:
            for w in a.sweep_workloads:
                for n in a.workers:
                    if n == a.main_workers and w in a.workloads:
                        continue  # measured by the main matrix already
                    for p in a.paths:
                        if p != "direct":
                            items.append((p, w, n, rep, "sweep"))
    return items


def progress_line(rec, total):
    head = f"[{rec['seq']}/{total}] {rec['path']} {rec['workload']} w{rec['workers']} rep {rec['rep']}: "
    if rec["status"] != "ok":
        return head + rec["status"].upper() + " - " + str(rec.get("error"))
    m = rec["metrics"]
    parts = []
    if W.unit(rec["workload"]) == "msg_per_s":
        parts.append(f"{m['msg_per_s']:,.0f} {W.label(rec['workload'])}")
    else:
        parts.append(f"{m['gbit_per_s']:.2f} Gbit/s")
    p99 = (m.get("latency_us") or {}).get("p99")
    if p99 is not None:
        parts.append(f"p99 {p99:.1f}us")
    if m.get("cpu_s_per_gb"):
        parts.append(f"cpu {m['cpu_s_per_gb']['total']:.2f} s/GB ({rec['cpu_source']})")
    return head + ", ".join(parts)

