#!/bin/bash
# Reproducer (issue 21): 8 two-way bulk echo streams of 1 s through --mode sockmap, RUNS times
# against one proxy, every byte checked by tcp_ping_client; counts the runs that failed (a reset,
# or an echo that stopped for 5 s) and keeps `ss -tnmi` of the proxy's sockets taken 4.5 s into
# each run (the state of a stalled one) in /tmp/sockmap-echo-streams.ss.<run> when it failed.
#   bench/repro/sockmap-echo-streams.sh [RUNS]      (run from the repository root, as root; BIN=dir)
B=${BIN:-build/bin}
# --sockmap-tcp-memory 300: relay in the kernel even where leaked TCP memory would send new sessions to splice.
"$B/tcp_ping_server" -p 29801 >/dev/null 2>&1 & S=$!
"$B/proxy" --mode sockmap -p 29800 -c 29801 --sockmap-tcp-memory 300 --stats off 2>/tmp/sockmap-echo-streams-proxy.err & P=$!
trap 'kill $P $S 2>/dev/null' EXIT
sleep 0.5
fails=0
for i in $(seq 1 "${1:-40}"); do
  timeout 20 "$B/tcp_ping_client" -p 29800 --mode stream -t 1 -c 8 -T 2 --json >/tmp/sockmap-echo-streams.out 2>/dev/null &
  c=$!
  sleep 4.5
  ss -tnmi "sport = :29800 or dport = :29801" >/tmp/sockmap-echo-streams.ss
  wait $c
  if [[ $(tail -n 1 /tmp/sockmap-echo-streams.out | jq -r .ok) != true ]]; then
    fails=$((fails + 1))
    echo "run $i: $(tail -n 1 /tmp/sockmap-echo-streams.out | jq -c '{errors, first_error}')"
    cp /tmp/sockmap-echo-streams.ss "/tmp/sockmap-echo-streams.ss.$i"
  fi
done
echo "$i runs, $fails failed"
