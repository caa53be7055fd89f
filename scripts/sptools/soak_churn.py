"""The soak's churn client: rounds of short-lived connections (tcp_ping_client -n N -c C), one
JSON line per round in churn.ndjson, all the time. Between two rounds the sampler can hold it, so
that a sample sees only the long-lived connections and the proxy's fd count is exact."""

import json
import os
import signal
import subprocess
import threading
import time

from spcore.children import shell_rc

ROUND_LIMIT_S = 20    # a round that takes longer is ended (SIGTERM, then SIGKILL 5 s later)
HOLD_LIMIT_S = 15     # the longest the sampler may hold it


def round_record(rc, summary, interrupted):
    """One churn.ndjson line: the round's exit code and what its summary said."""
    s = summary or {}

    def either(v, default):  # jq's //: null and false fall through
        return default if v is None or v is False else v

    return {"rc": rc, "interrupted": interrupted, "ok": rc == 0 and either(s.get("ok"), False) is True,
            "messages": either(s.get("messages"), 0), "errors": either(s.get("errors"), None),
            "first_error": either(s.get("first_error"), None)}


def never_started(rc, summary, stopping):
    """A round our own stop ended before its client had set up its SIGTERM handler (it dies of the
    signal, with no summary): it never ran, so it is no failed round. A loaded machine (the stack's
    replicas) widens that window from microseconds to milliseconds."""
    return stopping and rc == 128 + signal.SIGTERM and summary is None


def last_summary(path):
    """The client's summary: its last output line, when that is one."""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
        s = json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None
    return s if isinstance(s, dict) and s.get("type") == "summary" else None


class Churn(threading.Thread):
    def __init__(self, argv, log_dir, niceness=0):
        super().__init__(name="churn", daemon=True)
        self.argv = (["nice", "-n", str(niceness)] if niceness else []) + list(argv)
        self.log_dir = log_dir
        self.stopping = False
        self.lock = threading.Lock()
        self.proc = None
        self.holding = 0   # set by the sampler: hold after the round (a generation number)
        self.parked = 0    # set here: the generation it is held for
        self.rounds = self.failed = 0

    def path(self, name):
        return os.path.join(self.log_dir, name)

    def run(self):
        while not self.stopping:
            self.one_round()
            gen = self.holding
            if gen:
                self.parked = gen
                deadline = time.monotonic() + HOLD_LIMIT_S
                while self.holding == gen and not self.stopping and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.parked = 0
            deadline = time.monotonic() + 0.25
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.05)

    def one_round(self):
        with self.lock:
            if self.stopping:
                return
            with open(self.path("churn.last"), "w") as out, open(self.path("churn.err"), "a") as err:
                self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                             start_new_session=True)
        p = self.proc
        try:
            rc = shell_rc(p.wait(timeout=ROUND_LIMIT_S))
        except subprocess.TimeoutExpired:
            # as `timeout -k 5 20` reports it: 124 when SIGTERM ended it, 137 when SIGKILL had to
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=5)
                rc = 124
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                rc = 137
        with self.lock:
            self.proc = None
        summary = last_summary(self.path("churn.last"))
        if never_started(rc, summary, self.stopping):
            return
        rec = round_record(rc, summary, self.stopping)
        with open(self.path("churn.ndjson"), "a") as f:
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        self.rounds += 1
        self.failed += 0 if rec["ok"] else 1

    def hold(self, limit_s=25.0):
        """Holds it after its current round; True once it is held (a round ends within 20 s)."""
        gen = self.holding = time.monotonic_ns()
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and self.is_alive():
            if self.parked == gen:
                return True
            time.sleep(0.05)
        return False

    def release(self):
        self.holding = 0

    def stop(self, timeout):
        """Ends the current round (SIGTERM: the client prints its summary) and the loop."""
        with self.lock:
            self.stopping = True
            if self.proc and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
        self.join(timeout)
        if self.is_alive():
            with self.lock:
                if self.proc and self.proc.poll() is None:
                    self.proc.kill()
            self.join(10)
