#!/usr/bin/env bash
# bench/results/2026-12-06-vm-sockmap-hold/NOTES.md; its output beside it (the .txt of the same name).
# BIN: where the binaries are (default build/bin, from the repository root).
# 20 interleaved runs per mode of the 3 s bulk echo (every byte checked), fresh proxy each run.
# Per run: mismatches, short reads, resets, bytes received, MB/s, then the worker's sockmap_sessions
# and sockmap_declined (sockmap: 1 and 0 when the kernel relayed it). --sockmap-tcp-memory 90: relay
# in the kernel even where leaked TCP memory would send new sessions to splice (docs/sockmap.md).
B=${BIN:-build/bin}
for rep in $(seq 1 20); do
  for mode in rw splice auto uring sockmap; do
    $B/tcp_ping_server -s 127.0.0.1 -p 29531 -w 1 >/dev/null 2>&1 & srv=$!
    $B/proxy -s 127.0.0.1 -p 29530 -r 127.0.0.1:29531 --mode $mode -w 1 \
      --sockmap-tcp-memory 90 --stats 127.0.0.1:29532 >/dev/null 2>&1 & px=$!
    for _ in $(seq 30); do nc -z 127.0.0.1 29530 && break; sleep 0.1; done
    r=$(timeout 30 $B/tcp_ping_client -s 127.0.0.1 -p 29530 -c 1 --mode stream -t 3 --json | tail -1)
    c=$(echo stats | nc -q1 127.0.0.1 29532 | jq -r '[.workers[0].counters | .sockmap_sessions, .sockmap_declined] | @tsv')
    echo "$rep $mode $(echo "$r" | jq -r '[.errors.mismatches, .errors.short_reads, .errors.resets, .bytes_received, (.throughput.bytes_per_s/1e6|floor)] | @tsv') $c"
    kill $px $srv; wait $px $srv 2>/dev/null
  done
done
