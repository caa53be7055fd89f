#!/bin/bash
# Reproducer (issue 21, a held direction's window that reopened to a few KiB): four 3.2 MB downloads
# from a never-ending tcp_ping_server --source through --mode sockmap, again and again, until one
# takes longer than 15 s. With the window closed by shrinking SO_RCVBUF it hung in 1 run of 5 to 30
# (ss -tmi on the proxy's remote socket: rb4194304, rcv_ssthresh:2268; the server in persist);
# clamped with TCP_WINDOW_CLAMP, 160 runs passed. (docs/sockmap.md)
#   bench/repro/sockmap-window.sh [RUNS]        (run from the repository root, as root)
B=${BIN:-build/bin}
"$B/tcp_ping_server" -p 29901 -w 1 --source >/dev/null 2>&1 & S=$!
"$B/proxy" --mode sockmap -p 29900 -c 29901 --stats 127.0.0.1:29902 2>/tmp/sockmap-window-proxy.err & P=$!
trap 'kill $P $S 2>/dev/null' EXIT
sleep 0.5
for i in $(seq 1 "${1:-60}"); do
  if ! timeout 15 "$B/tcp_ping_client" -p 29900 --download -n 50 -c 4 -T 2 --json >/dev/null 2>/tmp/sockmap-window-client.err; then
    echo "run $i: no end within 15 s"
    ss -tnmi "sport = :29900 or dport = :29901"
    exit 1
  fi
done
echo "$i runs, every one finished"
