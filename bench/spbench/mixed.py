"""The mixed workload's client: a 1 KiB ping-pong "victim" at a fixed rate, first alone, then beside
N bulk streams through the same proxy (one worker: they share it), as one run of the bench.

    python3 mixed.py --client BIN/tcp_ping_client -s HOST -p PORT --streams N [--rate 500]
                     [--duration D] [--warmup W]

The victim runs paced (--rate): its latency counts from each message's intended send time, so a
stall counts for every message it delays (no coordinated omission). Alone for max(1.5, D/2) s,
then the streams start, and after W s (their buffers grown, full speed) the victim runs again for
D s while they go on. Prints one JSON line: both victim summaries, the streams' summary, and the
verdict; exit 0 only when all three clients did. Standalone (the standard library only): the bench
starts it as a client program.
"""

import argparse
import json
import subprocess
import sys
import time


def summary_of(stdout):
    """The last JSON line tcp_ping_client printed (its summary), or None."""
    last = None
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                last = json.loads(line)
            except ValueError:
                pass
    return last if isinstance(last, dict) and last.get("type") == "summary" else None


def victim_argv(a, seconds):
    return [a.client, "-s", a.server, "-p", str(a.port), "-c", "1", "-l", "1024", "--rate", str(a.rate),
            "-t", f"{seconds:g}", "--warmup", "0.2", "--json"]


def streams_argv(a, seconds):
    return [a.client, "-s", a.server, "-p", str(a.port), "--mode", "stream", "-c", str(a.streams),
            "-T", str(min(a.streams, 2)), "-t", f"{seconds:g}", "--json"]


def run(argv, timeout):
    """(exit code, summary or None, stderr tail)."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return None, None, f"timed out after {timeout:.0f} s: {(e.stderr or '')[-500:]}"
    return r.returncode, summary_of(r.stdout), r.stderr[-500:]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--client", required=True, help="the tcp_ping_client binary")
    ap.add_argument("-s", "--server", default="127.0.0.1")
    ap.add_argument("-p", "--port", type=int, required=True)
    ap.add_argument("--streams", type=int, required=True, help="bulk streams beside the victim")
    ap.add_argument("--rate", type=float, default=500.0, help="the victim's messages per second (default 500)")
    ap.add_argument("--duration", type=float, default=4.0, help="the victim's measured seconds beside the streams")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds the streams run before the victim starts")
    a = ap.parse_args(argv)
    alone_s = max(1.5, a.duration / 2)
    limit = a.duration + a.warmup + 30

    code_alone, alone, err_alone = run(victim_argv(a, alone_s), limit)
    streams = subprocess.Popen(streams_argv(a, a.warmup + a.duration + 1.0), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    time.sleep(a.warmup)
    code_loaded, loaded, err_loaded = run(victim_argv(a, a.duration), limit)
    try:
        out, err_streams = streams.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        streams.kill()
        out, err_streams = streams.communicate()
    stream = summary_of(out)
    ok = (code_alone == 0 and code_loaded == 0 and streams.returncode == 0
          and all(s is not None and s.get("ok") for s in (alone, loaded, stream)))
    doc = {"type": "mixed", "ok": ok, "streams_n": a.streams, "rate": a.rate,
           "victim_alone": alone, "victim_loaded": loaded, "streams": stream,
           "exit_codes": {"victim_alone": code_alone, "victim_loaded": code_loaded, "streams": streams.returncode}}
    if not ok:
        doc["stderr"] = {"victim_alone": err_alone, "victim_loaded": err_loaded, "streams": err_streams[-500:]}
    print(json.dumps(doc, sort_keys=True), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
