#!/bin/bash
# Reproducer (issue 21, a wrong byte through --mode sockmap): 16 bulk echo streams at once through
# one worker, again and again; tcp_ping_client checks every byte. Seen once in 5 runs of the mixed
# workload (bench/results/2026-12-06-vm-mixed: "message 3110 byte 59282 is 0xdc, expected 0xf1",
# sockmap_trims 1, sockmap_holds 683). Compares proxies: PROXIES="a/proxy b/proxy".
#   bench/repro/sockmap-16-streams.sh [RUNS] [SECONDS]     (run from the repository root, as root)
B=${BIN:-build/bin}
runs=${1:-10}; secs=${2:-4}
"$B/tcp_ping_server" -p 29961 -w 1 >/dev/null 2>&1 & S=$!
trap 'kill $S 2>/dev/null' EXIT
for i in $(seq 1 "$runs"); do
  for p in ${PROXIES:-$B/proxy}; do
    "$p" --mode sockmap -p 29960 -c 29961 -w 1 --stats 127.0.0.1:29962 2>/dev/null & P=$!
    sleep 0.4
    out=$("$B/tcp_ping_client" -p 29960 --mode stream -c 16 -T 2 -t "$secs" --json 2>&1 | tail -1)
    stats=$(echo stats | nc -q1 127.0.0.1 29962 | jq -c '[.workers[].counters | {sockmap_trims, sockmap_holds, resets}]')
    kill $P; wait $P 2>/dev/null
    echo "run $i $p: $(echo "$out" | jq -c '{ok, mismatches: .errors.mismatches, gbit: (.throughput.mbit_per_s/1000)}' 2>/dev/null || echo "$out") $stats"
  done
done
