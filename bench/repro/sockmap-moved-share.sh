#!/usr/bin/env bash
# docs/sockmap.md, "Who moves the bytes" (issue 21): the share of each workload's bytes that the
# worker moved on with read/write while the relay held a direction (sockmap_moved_bytes over
# bytes_in + bytes_out), beside splice's throughput in the same runs. REPS interleaved repetitions
# (default 5) of: a 3 s bulk echo (1 and 4 connections), a 3 s one-way stream to a sink, iperf3 -t 3
# upload, 64 connections of 1 KiB ping-pong; then the medians. Content is checked by tcp_ping_client
# (echo, ping-pong); the sink and iperf3 count bytes only.
#   bench/repro/sockmap-moved-share.sh [REPS]   (repository root; BIN=dir; needs iperf3, jq, nc)
# --sockmap-tcp-memory 90: relay in the kernel even where leaked TCP memory would send new sessions to splice.
set -u
reps=${1:-5}
B=${BIN:-build/bin}
out=$(mktemp)
trap 'kill $px $srv 2>/dev/null; rm -f "$out"' EXIT
px=0 srv=0
start_proxy() {  # mode
  "$B/proxy" -s 127.0.0.1 -p 29540 -r 127.0.0.1:29541 -w 1 --mode "$1" --sockmap-tcp-memory 90 \
    --stats 127.0.0.1:29542 >/dev/null 2>&1 & px=$!
  for _ in $(seq 50); do nc -z 127.0.0.1 29540 && break; sleep 0.1; done
  sleep 0.3
}
stop() { kill $px $srv 2>/dev/null; wait $px $srv 2>/dev/null; }
counters() { echo stats | nc -q1 127.0.0.1 29542 | jq -r '.workers[0].counters | [.bytes_in, .bytes_out, .sockmap_moved_bytes, .sockmap_holds] | @tsv'; }
run() {  # rep, workload, mode
  local rep=$1 workload=$2 mode=$3 rate=""
  case $workload in
    iperf3-up) iperf3 -s -p 29541 >/dev/null 2>&1 & srv=$! ;;
    sink) "$B/tcp_ping_server" -s 127.0.0.1 -p 29541 -w 1 --sink >/dev/null 2>&1 & srv=$! ;;
    *) "$B/tcp_ping_server" -s 127.0.0.1 -p 29541 -w 1 >/dev/null 2>&1 & srv=$! ;;
  esac
  sleep 0.2
  start_proxy "$mode"
  local client=(timeout 30 "$B/tcp_ping_client" -s 127.0.0.1 -p 29540 --json)
  case $workload in
    echo-1) rate=$("${client[@]}" -c 1 --mode stream -t 3 | tail -1 | jq -r 'if .ok then .throughput.bytes_per_s/1e6 else "failed" end') ;;
    echo-4) rate=$("${client[@]}" -c 4 --mode stream -t 3 | tail -1 | jq -r 'if .ok then .throughput.bytes_per_s/1e6 else "failed" end') ;;
    sink) "${client[@]}" -c 1 --mode stream -t 3 >/dev/null 2>&1; rate=sink ;;  # no echo to check: bytes counted below
    iperf3-up) rate=$(timeout 30 iperf3 -c 127.0.0.1 -p 29540 -t 3 -J | jq -r '.end.sum_received.bytes_per_second // (.end.sum_received.bits_per_second/8) | ./1e6') ;;
    pingpong-64) rate=$("${client[@]}" -c 64 -l 1024 -t 3 | tail -1 | jq -r 'if .ok then "ok" else "failed" end') ;;
  esac
  sleep 0.3  # a stats sample after the last byte
  echo "$rep $workload $mode $rate $(counters)" | tee -a "$out"
  stop
}
echo "rep workload mode MB/s bytes_in bytes_out sockmap_moved_bytes sockmap_holds"
for rep in $(seq 1 "$reps"); do
  for workload in echo-1 echo-4 sink iperf3-up pingpong-64; do
    run "$rep" "$workload" sockmap
    [[ $workload == echo-1 || $workload == iperf3-up ]] && run "$rep" "$workload" splice
  done
done
echo "medians over $reps repetitions (moved: sockmap_moved_bytes / (bytes_in + bytes_out)):"
python3 - "$out" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) >= 8]
for key in dict.fromkeys((r[1], r[2]) for r in rows):
    sel = [r for r in rows if (r[1], r[2]) == key]
    rates = [float(r[3]) for r in sel if r[3].replace('.', '', 1).isdigit()]
    shares = [int(r[6]) / max(int(r[4]) + int(r[5]), 1) for r in sel]
    holds = [int(r[7]) for r in sel]
    rate = f"{statistics.median(rates):8.0f} MB/s" if rates else "       -     "
    print(f"{key[0]:12} {key[1]:8} {rate}  moved {100 * statistics.median(shares):5.1f} % "
          f"[{100 * min(shares):.1f}-{100 * max(shares):.1f}]  holds {statistics.median(holds):.0f}  runs {len(sel)}")
PY
