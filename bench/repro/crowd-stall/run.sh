#!/bin/bash
# One crowd run (2,000 x 2 MiB echoed at once, -w 2) through the proxy in MODE, with `ss -tnio`
# snapshots of all four sockets of every session each second, then the sockets that moved no byte
# between the last snapshots but two and the last (stuck.py): which hop waits, on which TCP timer
# (persist = zero-window probes, on = retransmission) and at which backoff. Loopback only; bounded
# (12 snapshots, the client's own 5 s stall mark, the run ends by itself).
#   bench/repro/crowd-stall/run.sh [MODE] [OUT]      (defaults uring, /tmp/crowd-stall; BIN=dir)
# The snapshots cost CPU and lengthen the run; take them as a view of the stall, not as its rate.
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=${BIN:-$here/../../../build/bin}; mode=${1:-uring}; out=${2:-/tmp/crowd-stall}
sp=$((20000 + RANDOM % 20000)); pp=$((sp + 1)); st=$((sp + 2))
mkdir -p "$out"
"$B/tcp_ping_server" -s 127.0.0.1 -p $sp -w 2 >/dev/null 2>&1 & s=$!
"$B/proxy" -s 127.0.0.1 -p $pp -r 127.0.0.1 -c $sp --mode "$mode" -w 2 --stats 127.0.0.1:$st >"$out/proxy.log" 2>&1 & x=$!
sleep 0.5
"$B/tcp_ping_client" -s 127.0.0.1 -p $pp -c 2000 -T 2 -l 2M -n 1 --stall 5 --json >"$out/client.json" 2>"$out/client.err" & c=$!
for t in $(seq 1 12); do
  sleep 1
  kill -0 $c 2>/dev/null || break
  ss -tnHio state established "( sport = :$pp or dport = :$pp or sport = :$sp or dport = :$sp )" >"$out/ss.$t" 2>/dev/null
  echo stats | timeout 1 nc 127.0.0.1 $st >"$out/stats.$t" 2>/dev/null
done
wait $c
kill $x $s 2>/dev/null; wait $x $s 2>/dev/null
echo "client: $(jq -c .stalls "$out/client.json" | tail -n 1)"
python3 "$here/stuck.py" "$out" $pp $sp
