#!/bin/bash
# The 1 KiB ping-pong victim (500 msg/s, --rate: no coordinated omission) alone and then beside N
# bulk echo streams on the same -w 1 proxy, for two proxy binaries side by side (an A/B of a
# change to the fair turns, e.g. kRoundBytes built twice), repetitions interleaved. Prints per run
# the victim's p50 alone and loaded, their ratio, and the streams' MB/s. (issue 22, turn size:
# 256 KiB rounds against 128 KiB cut the loaded p50 by 10-20 % and the streams by ~25 %.)
#   bench/repro/victim-ab.sh PROXY_A PROXY_B [MODE] [REPS] [STREAMS]   (defaults rw, 5, 4; BIN=dir)
set -u
B=${BIN:-build/bin}; a=$1; b=$2; mode=${3:-rw}; reps=${4:-5}; streams=${5:-4}
one() {  # proxy binary -> one line
  local port=$((20000 + RANDOM % 20000)) s x c alone loaded mb
  "$B/tcp_ping_server" -p $port >/dev/null 2>&1 & s=$!
  "$1" -w 1 --mode "$mode" -s 127.0.0.1:$((port + 1)) -r 127.0.0.1:$port --stats off >/dev/null 2>&1 & x=$!
  sleep 0.3
  alone=$("$B/tcp_ping_client" -p $((port + 1)) --rate 500 -t 2 --json | tail -n 1 | jq .latency_us.p50)
  timeout 10 "$B/tcp_ping_client" -p $((port + 1)) --mode stream -c "$streams" -t 3.5 --json >/tmp/victim-ab.streams 2>&1 &
  c=$!
  sleep 0.5
  loaded=$("$B/tcp_ping_client" -p $((port + 1)) --rate 500 -t 2 --json | tail -n 1 | jq .latency_us.p50)
  wait $c
  mb=$(tail -n 1 /tmp/victim-ab.streams | jq '.bytes_received / 3.5 / 1e6 | floor')
  kill $x $s 2>/dev/null; wait $x $s 2>/dev/null
  echo "alone_p50_us=$alone loaded_p50_us=$loaded ratio=$(echo "scale=2; $loaded / $alone" | bc) streams_MBps=$mb"
}
lscpu | sed -n 's/^Model name: *//p' | head -n 1 | sed 's/^/CPU: /'
for r in $(seq "$reps"); do
  echo "rep $r A $(one "$a")"
  echo "rep $r B $(one "$b")"
done
