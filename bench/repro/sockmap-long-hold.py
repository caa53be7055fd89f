#!/usr/bin/env python3
# docs/sockmap.md ("A held sender that waited long comes back only at its next probe").
# N sessions through a 1-worker sockmap proxy to remotes that do not read; once every client is
# held (its window closed by the relay's hold), the remotes read one after another, WAIT s apart,
# and each session's longest gap is printed: it grows with how long the session was held, as the
# client's zero-window probe backoff does (2026-12-07, 4 sessions, 3 s apart: 0.2, 1.6, 3.4, 6.7 s).
# Fixed the same day (the window reopens wide, server/paths/sockmap_window.h): every gap 0.01 s.
# MODE=rw (or another --mode) for the same through a pump. Needs root (sockmap).
# Usage: [MODE=sockmap] sockmap-long-hold.py PROXY N WAIT [PROXY ARGS...]
import os, socket, sys, time, subprocess, signal
if len(sys.argv) < 4 or sys.argv[1].startswith("-"):
    print("usage: sockmap-long-hold.py PROXY N WAIT [PROXY ARGS...]", file=sys.stderr)
    sys.exit(2)
proxy, n, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]); extra = sys.argv[4:]
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); srv.bind(("127.0.0.1", 0)); srv.listen(64)
s = socket.socket(); s.bind(("127.0.0.1", 0)); pport = s.getsockname()[1]; s.close()
px = subprocess.Popen([proxy, "-s", f"127.0.0.1:{pport}", "-r", f"127.0.0.1:{srv.getsockname()[1]}", "--mode", os.environ.get("MODE", "sockmap"), "-w", "1", "--stats", "off"] + extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(0.5)
pairs = []
for i in range(n):
    c = socket.create_connection(("127.0.0.1", pport)); r, _ = srv.accept(); c.setblocking(False); pairs.append([c, r, 0, time.time()])
chunk = b"x" * 65536; t0 = time.time()
while time.time() - t0 < 20:
    moving = False
    for p in pairs:
        if time.time() - p[3] > 1.0: continue
        moving = True
        try: p[2] += p[0].send(chunk); p[3] = time.time()
        except BlockingIOError: pass
    if not moving: break
    time.sleep(0.001)
for p in pairs: p[0].setblocking(True); p[0].shutdown(socket.SHUT_WR)
for i, (c, r, sent, _) in enumerate(pairs):
    time.sleep(wait)
    r.settimeout(60); got = 0; t1 = time.time(); last = t1; gap = 0
    try:
        while got < sent:
            b = r.recv(1 << 20)
            if not b: break
            now = time.time(); gap = max(gap, now - last); last = now; got += len(b)
    except socket.timeout: pass
    print(f"session {i}: {got>>20}/{sent>>20} MiB in {time.time()-t1:.2f} s, longest gap {gap:.2f} s", flush=True)
px.send_signal(signal.SIGKILL); px.wait()
