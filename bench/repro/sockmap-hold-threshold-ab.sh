#!/usr/bin/env bash
# 5 interleaved runs of the 3 s bulk echo: sockmap with a 2 MiB and an 8 MiB hold threshold (two
# builds at /tmp/hold/proxy-2m and proxy-8m), and splice; MB/s, bytes, errors, machine CPU jiffies.
# bench/results/2026-12-06-vm-sockmap-hold/NOTES.md; its output beside it (the .txt of the same name).
# BIN: where the binaries are (default build/bin, from the repository root).
B=${BIN:-build/bin}
for rep in 1 2 3 4 5; do
  for v in 2m 8m splice; do
    $B/tcp_ping_server -s 127.0.0.1 -p 29521 -w 1 >/dev/null 2>&1 & srv=$!
    if [[ $v == splice ]]; then /tmp/hold/proxy-2m -s 127.0.0.1 -p 29520 -r 127.0.0.1:29521 --mode splice -w 1 --stats off >/dev/null 2>&1 & px=$!
    else /tmp/hold/proxy-$v -s 127.0.0.1 -p 29520 -r 127.0.0.1:29521 --mode sockmap -w 1 --stats off >/dev/null 2>&1 & px=$!; fi
    for _ in $(seq 30); do nc -z 127.0.0.1 29520 && break; sleep 0.1; done
    m0=$(awk '/^cpu /{print $2+$3+$4+$6+$7+$8}' /proc/stat)
    r=$($B/tcp_ping_client -s 127.0.0.1 -p 29520 -c 1 --mode stream -t 3 --json | tail -1)
    m1=$(awk '/^cpu /{print $2+$3+$4+$6+$7+$8}' /proc/stat)
    echo "$rep $v $(echo "$r" | jq -r '[.throughput.bytes_per_s/1e6, .bytes_received, .errors.total] | @tsv') $((m1-m0))"
    kill $px $srv; wait $px $srv 2>/dev/null
  done
done
