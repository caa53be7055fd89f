#!/bin/bash
# bench/results/2026-12-07b-vm-sockmap-echo100 (issue 21: 100 runs of the 3 s bulk echo through --mode sockmap).
# RUNS runs (default 100), a fresh 1-worker proxy each; per run: ok, mismatches, short reads, resets,
# bytes received, MB/s, then the worker's [sockmap_sessions, sockmap_holds, sockmap_declined, resets,
# sockmap_overflows]; the kernel's TCP pages (/proc/net/sockstat) before and after.
#   bench/repro/sockmap-bulk-echo-runs.sh [RUNS]   (repository root; BIN=dir)
runs=${1:-100}
B=${BIN:-build/bin}
pages() { awk '/^TCP:/ { print $NF }' /proc/net/sockstat; }
echo "start pages $(pages)"
for rep in $(seq 1 "$runs"); do
  $B/tcp_ping_server -s 127.0.0.1 -p 29531 -w 1 >/dev/null 2>&1 & srv=$!
  $B/proxy -s 127.0.0.1 -p 29530 -r 127.0.0.1:29531 --mode sockmap -w 1 --stats 127.0.0.1:29532 >/dev/null 2>&1 & px=$!
  for _ in $(seq 30); do nc -z 127.0.0.1 29530 && break; sleep 0.1; done
  sleep 0.3
  r=$(timeout 30 $B/tcp_ping_client -s 127.0.0.1 -p 29530 -c 1 --mode stream -t 3 --json | tail -1)
  c=$(echo stats | nc -q1 127.0.0.1 29532 | jq -c '[.workers[0].counters | .sockmap_sessions, .sockmap_holds, .sockmap_declined, .resets, .sockmap_overflows]')
  echo "$rep $(echo "$r" | jq -r '[.ok, .errors.mismatches, .errors.short_reads, .errors.resets, .bytes_received, (.throughput.bytes_per_s/1e6|floor)] | @tsv') $c"
  kill $px $srv; wait $px $srv 2>/dev/null
done
echo "end pages $(pages)"
