#!/usr/bin/env bash
# bench/results/2026-12-06-vm-sockmap-hold/NOTES.md; its output beside it (the .txt of the same name).
# BIN: where the binaries are (default build/bin, from the repository root).
# iperf3 -P1 uploads (client -> proxy -> iperf3 server), 5 interleaved reps of splice, sockmap, rw.
B=${BIN:-build/bin}
iperf3 -s -p 29511 -D --logfile /tmp/sm/iperf-server.log; sleep 0.5
for rep in 1 2 3 4 5; do
  for mode in splice sockmap rw; do
    $B/proxy -s 127.0.0.1 -p 29510 -r 127.0.0.1:29511 --mode $mode -w 1 --stats 127.0.0.1:29512 >/dev/null 2>&1 & px=$!
    for _ in $(seq 30); do nc -z 127.0.0.1 29510 && break; sleep 0.1; done
    read u0 s0 < <(awk '{print $14, $15}' /proc/$px/stat)
    m0=$(awk '/^cpu /{print $2+$3+$4+$6+$7+$8}' /proc/stat)
    out=$(iperf3 -c 127.0.0.1 -p 29510 -t 3 -J 2>/dev/null)
    m1=$(awk '/^cpu /{print $2+$3+$4+$6+$7+$8}' /proc/stat)
    gbps=$(echo "$out" | jq '.end.sum_received.bits_per_second/1e9' 2>/dev/null)
    err=$(echo "$out" | jq -r '.error // ""' 2>/dev/null)
    bytes=$(echo "$out" | jq '.end.sum_received.bytes' 2>/dev/null)
    st=$(echo stats | timeout 2 nc -q1 127.0.0.1 29512 | jq -c '[.workers[0].counters|.sockmap_holds,.resets]' 2>/dev/null)
    echo "rep $rep $mode: ${gbps} Gbit/s, machine $(echo "($m1-$m0)/100/($bytes/1e9)" | bc -l | cut -c1-5) CPU-s/GB $st $err"
    kill $px; wait $px 2>/dev/null
  done
done
pkill -f "iperf3 -s -p 29511"
