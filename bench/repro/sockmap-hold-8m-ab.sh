#!/bin/bash
# docs/sockmap.md, "Who moves the bytes" (issue 21): the hold at 2 MiB (this tree) against 8 MiB (a second
# build with SP_RELAY_HOLD_AT (8 << 20) in server/paths/bpf/relay_session.h, its proxy given as PROXY_8M),
# REPS interleaved repetitions of a 3 s bulk echo, a 3 s stream to a sink and iperf3 -t 3 upload through
# --mode sockmap, and splice's echo as the reference. Per run: MB/s, then bytes_in, bytes_out,
# sockmap_moved_bytes, sockmap_holds, sockmap_overflows, resets.
#   PROXY_8M=/path/to/proxy bench/repro/sockmap-hold-8m-ab.sh [REPS]   (repository root; BIN=dir)
B=${BIN:-build/bin}
P8=${PROXY_8M:?the proxy built with an 8 MiB hold}
reps=${1:-5}
counters() { echo stats | nc -q1 127.0.0.1 29542 | jq -r '.workers[0].counters | [.bytes_in, .bytes_out, .sockmap_moved_bytes, .sockmap_holds, .sockmap_overflows, .resets] | @tsv'; }
run() { # label proxy mode workload
  case $4 in
    iperf3-up) iperf3 -s -p 29541 >/dev/null 2>&1 & srv=$! ;;
    sink) $B/tcp_ping_server -s 127.0.0.1 -p 29541 -w 1 --sink >/dev/null 2>&1 & srv=$! ;;
    *) $B/tcp_ping_server -s 127.0.0.1 -p 29541 -w 1 >/dev/null 2>&1 & srv=$! ;;
  esac
  sleep 0.2
  $2 -s 127.0.0.1 -p 29540 -r 127.0.0.1:29541 -w 1 --mode $3 --sockmap-tcp-memory 90 --stats 127.0.0.1:29542 2>/tmp/hold-ab-proxy.err & px=$!
  for _ in $(seq 50); do nc -z 127.0.0.1 29540 && break; sleep 0.1; done; sleep 0.3
  if ! nc -z 127.0.0.1 29540; then  # say why instead of measuring nothing
    echo "$1 $4 proxy not listening: $(tail -n 2 /tmp/hold-ab-proxy.err | tr '\n' ' ')"
    kill $px $srv 2>/dev/null; wait $px $srv 2>/dev/null; return
  fi
  case $4 in
    echo-1) rate=$(timeout 30 $B/tcp_ping_client -s 127.0.0.1 -p 29540 --json -c 1 --mode stream -t 3 | tail -1 | jq -r 'if .ok then (.throughput.bytes_per_s/1e6|floor) else "failed:\(.errors)" end') ;;
    sink) timeout 30 $B/tcp_ping_client -s 127.0.0.1 -p 29540 --json -c 1 --mode stream -t 3 >/dev/null 2>&1; rate=sink ;;
    iperf3-up) rate=$(timeout 30 iperf3 -c 127.0.0.1 -p 29540 -t 3 -J | jq -r '.end.sum_received.bits_per_second/8e6|floor') ;;
  esac
  sleep 0.3
  echo "$1 $4 $rate $(counters)"
  kill $px $srv 2>/dev/null; wait $px $srv 2>/dev/null
}
for rep in $(seq $reps); do
  for w in echo-1 sink iperf3-up; do
    run 2m $B/proxy sockmap $w
    run 8m $P8 sockmap $w
  done
  run splice $B/proxy splice echo-1
done
