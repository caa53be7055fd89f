#!/bin/bash
# The profile quoted in bench/results/2026-11-28b-vm/NOTES.md (its outputs: profile/ in that run's raw.tar.xz): one proxy in front of iperf3 -s, iperf3 -c -P1 for 8 s,
# perf record -g of the proxy for 4 s of it, then perf stat of its system calls for 1 s.
#   bench/repro/perf-splice-iperf3.sh ours build/bin/proxy -s 127.0.0.1 -p 17001 -r 127.0.0.1 -c 15301 -w 1 -z --stats off
#   bench/repro/perf-splice-iperf3.sh hap haproxy -db -f bench/repro/perf-splice-haproxy.cfg
# Writes NAME.data, NAME.stat and NAME.iperf.json into $OUT (default /tmp/splice-profile).
set -u
out=${OUT:-/tmp/splice-profile}
mkdir -p "$out"
name=$1; shift
iperf3 -s -p 15301 >/dev/null 2>&1 & S=$!
"$@" >/dev/null 2>"$out/$name.err" & P=$!
sleep 1
iperf3 -c 127.0.0.1 -p 17001 -t 8 -J > "$out/$name.iperf.json" & C=$!
sleep 2
perf record -g -o "$out/$name.data" -p $P -- sleep 4 >/dev/null 2>&1
perf stat -e syscalls:sys_enter_splice,syscalls:sys_enter_epoll_wait,context-switches,syscalls:sys_enter_clock_gettime \
  -p $P -- sleep 1 2> "$out/$name.stat"
wait $C
kill $P $S; wait $P $S 2>/dev/null
python3 -c "import json; d = json.load(open('$out/$name.iperf.json')); print('$name', d['end']['sum_received']['bits_per_second'] / 1e9, 'Gbit/s')"
