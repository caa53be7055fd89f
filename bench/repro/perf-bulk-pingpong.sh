#!/bin/bash
# The profiles quoted in bench/results/2026-12-01-vm/NOTES.md (its outputs: profile/ in that run's
# raw.tar.xz). One proxy (ours or HAProxy) between a load client and its
# backend on loopback; perf record -g of the proxy for 4 s of the load, then perf stat of its
# system calls and context switches for 2 s, then the proxy's CPU seconds over the whole load.
#   perf-bulk-pingpong.sh bulk NAME PROXY-COMMAND...    iperf3 -c -P1 -t 9 through 127.0.0.1:17001 to iperf3 -s on :15301
#   perf-bulk-pingpong.sh pingpong NAME PROXY-COMMAND... tcp_ping_client -c 1 -t 9 (1 KiB) through :17001 to tcp_ping_server on :15302
# e.g. (from the repository root)
#       bench/repro/perf-bulk-pingpong.sh bulk rw    build/bin/proxy -s 127.0.0.1:17001 -r 127.0.0.1:15301 -w 1 --stats off
#       bench/repro/perf-bulk-pingpong.sh bulk hap1m haproxy -db -f bench/repro/perf-haproxy-1m.cfg
#       bench/repro/perf-bulk-pingpong.sh pingpong uring build/bin/proxy -s 127.0.0.1:17001 -r 127.0.0.1:15302 -w 1 --mode uring --stats off
# Writes NAME.data (perf), NAME.stat, NAME.load (client output) and NAME.top (top symbols) into $OUT
# (default: a new temporary directory, printed). Bounded: every process it starts is ended by PID.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$(mktemp -d)}
echo "output in $out" >&2
bin=${BIN:-$here/../../build/bin}
kind=$1 name=$2; shift 2
case "$kind" in
  bulk) iperf3 -s -p 15301 >/dev/null 2>&1 & S=$! ;;
  pingpong) "$bin/tcp_ping_server" -s 127.0.0.1:15302 -w 1 --stats off >/dev/null 2>&1 & S=$! ;;
  *) echo "usage: perf-bulk-pingpong.sh bulk|pingpong NAME PROXY-COMMAND..." >&2; exit 2 ;;
esac
"$@" >/dev/null 2>"$out/$name.err" & P=$!
sleep 1
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$P/stat"; }
c0=$(cpu)
case "$kind" in
  bulk) iperf3 -c 127.0.0.1 -p 17001 -t 9 > "$out/$name.load" & C=$! ;;
  pingpong) "$bin/tcp_ping_client" -s 127.0.0.1 -p 17001 -c 1 -t 9 > "$out/$name.load" & C=$! ;;
esac
sleep 2
perf record -g -o "$out/$name.data" -p $P -- sleep 4 >/dev/null 2>&1
perf stat -e 'syscalls:sys_enter_io_uring_enter,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_write,syscalls:sys_enter_splice,context-switches' \
  -p $P -- sleep 2 2> "$out/$name.stat"
wait $C
c1=$(cpu)
kill $P $S 2>/dev/null; wait $P $S 2>/dev/null
perf report -i "$out/$name.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep '%' | head -25 > "$out/$name.top"
echo "$name: proxy CPU $(echo "scale=2; ($c1 - $c0) / $tck" | bc) s over the load; $(grep -E 'receiver|messages:' "$out/$name.load" | head -1)"
