# Reproducer (issue 15, flow control): one keep-alive connection, four 256 MiB downloads through
# proxy --mode sockmap; a download that stops short by one segment is a segment the kernel dropped.
# (bench/results/2026-12-01-vm-sockmap/NOTES.md)
#   PROXY=path/to/proxy python3 bench/repro/sockmap-download.py [BYTES]      (run from the repository root)
# server answers each 1-byte request with N bytes on one keep-alive connection; client reads exactly N
import json, os, socket, subprocess, sys, threading, time
N = int(sys.argv[1]) if len(sys.argv) > 1 else 256 << 20
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(8); rport = l.getsockname()[1]
p = subprocess.Popen([os.environ.get("PROXY", "build/bin/proxy"), "-s", "127.0.0.1", "-p", "19798", "-r", "127.0.0.1", "-c", str(rport),
                      "--mode", "sockmap", "-w", "1", "--stats", "127.0.0.1:19797", "-vv"], stderr=open(os.environ.get("LOG", "/tmp/download-proxy.log"), "w"))
time.sleep(0.5)
def serve():
    while True:
        c, _ = l.accept()
        buf = b"y" * (1 << 20)
        while True:
            r = c.recv(1)
            if not r: break
            left = N
            while left: left -= c.send(buf[:min(left, len(buf))])
threading.Thread(target=serve, daemon=True).start()
c = socket.create_connection(("127.0.0.1", 19798)); c.settimeout(5)
for i in range(4):
    c.send(b"g"); got = 0; t = time.time()
    try:
        while got < N:
            d = c.recv(1 << 20)
            if not d: break
            got += len(d)
    except socket.timeout: pass
    print(f"fetch {i}: {got} of {N} in {time.time()-t:.2f}s", flush=True)
    if got < N: break
try:
  s = socket.create_connection(("127.0.0.1", 19797)); s.sendall(b"stats\n")
  print("to_user", json.loads(s.makefile().readline())["workers"][0]["counters"].get("sockmap_to_user"))
finally: pass
p.terminate(); p.wait()
