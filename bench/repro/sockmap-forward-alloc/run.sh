#!/bin/bash
# Reproducer (issue 21): which sessions leave a TCP socket whose memory accounting is off when the
# kernel frees it (freed_sockets.bpf.c says why that is the leak). Builds the tracer, then for each
# workload runs RUNS sessions of 3 s through one fresh 1-worker proxy while the tracer counts every
# IPv4 TCP socket freed and those freed with sk_forward_alloc != 0 ("uneven"). Controls: splice,
# one-way bulk through sockmap (holds, one direction), two-way small messages through sockmap (no
# holds); the case: two-way bulk through sockmap (holds while the other direction flows).
# Exit status 1 when any workload left an uneven socket. About a minute with RUNS=4.
#   bench/repro/sockmap-forward-alloc/run.sh [RUNS]   (repository root, as root; BIN=dir, OUT=file.jsonl)
set -euo pipefail
B=${BIN:-build/bin}
runs=${1:-4}
here=$(dirname "$0")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for tool in bpftool clang gcc jq nc; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (scripts/setup-deps installs it)" >&2; exit 2; }
done
bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$work/vmlinux.h"
clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I"$work" -c "$here/freed_sockets.bpf.c" -o "$work/freed_sockets.bpf.o"
gcc -O2 -Wall -Werror "$here/freed_sockets.c" -o "$work/freed_sockets" -lbpf
pages() { awk '/^TCP:/ { print $NF }' /proc/net/sockstat; }

reproduced=0
run() {  # label mode server-flags client-flags
  local label=$1 mode=$2 server_flags=($3) client_flags=($4)
  "$work/freed_sockets" "$work/freed_sockets.bpf.o" >"$work/tally" & local T=$!
  for _ in $(seq 1 50); do grep -q attached "$work/tally" 2>/dev/null && break; sleep 0.1; done
  grep -q attached "$work/tally" || { echo "run.sh: the tracer did not attach" >&2; exit 2; }
  "$B/tcp_ping_server" -p 29821 "${server_flags[@]}" >/dev/null 2>&1 & local S=$!
  "$B/proxy" --mode "$mode" -w 1 -p 29820 -c 29821 --stats 127.0.0.1:29822 2>/dev/null & local P=$!
  sleep 0.5
  local before failed=0 holds
  before=$(pages)
  for _ in $(seq 1 "$runs"); do
    timeout 30 "$B/tcp_ping_client" -p 29820 "${client_flags[@]}" -t 3 --json 2>/dev/null | tail -n 1 | jq -e .ok >/dev/null ||
      failed=$((failed + 1))
  done
  holds=$(echo stats | nc -q1 127.0.0.1 29822 | jq '.workers[0].counters.sockmap_holds // 0')
  kill "$P" "$S"; wait "$P" "$S" 2>/dev/null || true
  sleep 1  # the psock's teardown runs from a workqueue
  kill "$T"; wait "$T"
  local tally; tally=$(tail -n 1 "$work/tally")
  local uneven; uneven=$(jq .uneven <<<"$tally")
  ((uneven > 0)) && reproduced=1
  printf '%-34s %d runs (%d failed), %4d holds: %4d TCP sockets freed, %2d uneven (%s bytes), TCP pages %+d\n' \
    "$label" "$runs" "$failed" "$holds" "$(jq .freed <<<"$tally")" "$uneven" "$(jq .uneven_bytes <<<"$tally")" \
    $(($(pages) - before))
  [[ -n ${OUT:-} ]] && jq -c --arg label "$label" --argjson holds "$holds" --argjson failed "$failed" \
    '{label: $label, holds: $holds, failed: $failed} + .' <<<"$tally" >>"$OUT"
  return 0
}
run "splice, two-way bulk echo" splice "" "--mode stream"
run "sockmap, one-way bulk to a sink" sockmap "--sink" "--mode stream --no-echo"
run "sockmap, 64 x 1 KiB ping-pong" sockmap "" "-c 64 -l 1024"
run "sockmap, two-way bulk echo" sockmap "" "--mode stream"
exit $reproduced
