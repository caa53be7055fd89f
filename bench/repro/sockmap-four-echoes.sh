#!/bin/bash
# Reproducer (issue 21, 2026-12-07): four two-way bulk echo streams of T s (default 4) through one
# 1-worker sockmap proxy, RUNS times (default 40), every byte checked by tcp_ping_client. A run that
# stalls (an echo that stopped for 5 s) is counted, with `ss -tnmie` of the proxy's sockets and the
# program's `sessions` and `released` maps (bpftool) taken T+2 s into it, in /tmp/sockmap-four-echoes.*.<run>.
# With the other direction's pause lifted right after the wide reopening, 1 run in 20 stalled
# (docs/sockmap.md); the stats line at the end says how many sessions the kernel relayed.
#   bench/repro/sockmap-four-echoes.sh [RUNS]      (repository root, as root; BIN=dir T=seconds)
B=${BIN:-build/bin}
T=${T:-4}
"$B/tcp_ping_server" -p 29901 >/dev/null 2>&1 & S=$!
# --sockmap-tcp-memory 300: relay in the kernel even where leaked TCP memory would send new sessions to splice.
"$B/proxy" --mode sockmap -w 1 -p 29900 -c 29901 --sockmap-tcp-memory 300 --stats 127.0.0.1:29902 \
  2>/tmp/sockmap-four-echoes-proxy.err & P=$!
trap 'kill $P $S 2>/dev/null' EXIT
sleep 0.5
fails=0
for i in $(seq 1 "${1:-40}"); do
  timeout 30 "$B/tcp_ping_client" -p 29900 --mode stream -t "$T" -c 4 --json >/tmp/sockmap-four-echoes.out 2>/dev/null &
  c=$!
  sleep $((T + 2))
  if kill -0 $c 2>/dev/null; then  # still running 2 s after its end: keep the state
    ss -tnmie "sport = :29900 or dport = :29901" >/tmp/sockmap-four-echoes.ss.$i
    for map in sessions released; do bpftool map dump name $map >/tmp/sockmap-four-echoes.$map.$i 2>&1; done
  fi
  wait $c
  if [[ $(tail -n 1 /tmp/sockmap-four-echoes.out | jq -r .ok) != true ]]; then
    fails=$((fails + 1))
    echo "run $i: $(tail -n 1 /tmp/sockmap-four-echoes.out | jq -c .first_error)"
  fi
  echo "run $i of ${1:-40} done, $fails failed" >&2
done
echo "$i runs, $fails failed; $(echo stats | nc -q1 127.0.0.1 29902 |
  jq -c '.workers[0].counters | {sockmap_sessions, sockmap_declined, sockmap_holds, resets}')"
