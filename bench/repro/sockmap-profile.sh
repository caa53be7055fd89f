#!/usr/bin/env bash
# (bench/results/2026-12-01-vm-sockmap/NOTES.md) Where one bulk stream's time goes through --mode sockmap, beside splice: ten 200 MB iperf3 uploads
# (under the 256 MiB queue limit, so none is reset) through a 1-worker proxy on loopback, five while
# `perf record -a` samples the whole machine, five with the psock backlog worker's runs counted
# on the workqueue tracepoint. Needs root, perf, iperf3, jq; ports 25200-25202.
#   sockmap-profile.sh [BUILD_DIR] [OUT_DIR]     (defaults: build, a new temporary directory)
set -euo pipefail
case "${1:-}" in -h|--help) sed -n 2,6p "$0" | sed "s/^# \{0,1\}//"; exit 0 ;; -*) echo "sockmap-profile.sh: unknown option '$1'" >&2; sed -n 6p "$0" >&2; exit 2 ;; esac
build=${1:-build}
out=${2:-$(mktemp -d)}
mkdir -p "$out"
proxy="$build/bin/proxy"
[[ -x $proxy ]] || { echo "sockmap-profile.sh: no $proxy (build first)" >&2; exit 2; }
for tool in perf iperf3 jq; do command -v $tool >/dev/null || { echo "sockmap-profile.sh: needs $tool" >&2; exit 2; }; done
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

run_mode() {
  local mode=$1
  iperf3 -s -p 25201 >/dev/null 2>&1 & local server=$!
  "$proxy" -s 127.0.0.1:25200 -r 127.0.0.1:25201 --mode "$mode" --stats off -w 1 >"$out/proxy-$mode.log" 2>&1 &
  local px=$!
  pids=("$server" "$px")
  sleep 1
  # perf samples exactly while the uploads run: the first five with call graphs, the next five
  # counting the psock backlog worker's runs.
  perf record -a -g -o "$out/perf-$mode.data" -- bash -c "for i in 1 2 3 4 5; do timeout 20 iperf3 -c 127.0.0.1 -p 25200 -n 200M -J >'$out/iperf3-$mode-'\$i.json || true; done" >/dev/null 2>&1
  perf record -a -e workqueue:workqueue_execute_start -o "$out/wq-$mode.data" -- bash -c "for i in 6 7 8 9 10; do timeout 20 iperf3 -c 127.0.0.1 -p 25200 -n 200M -J >'$out/iperf3-$mode-'\$i.json || true; done" >/dev/null 2>&1
  kill "$px" "$server"; wait "$px" "$server" 2>/dev/null || true
  pids=()
  local rates idle backlog
  rates=$(for f in "$out"/iperf3-"$mode"-*.json; do jq -r 'if .error then empty else .end.sum_received.bits_per_second/1e9 end' "$f"; done | sort -g)
  idle=$(perf report -i "$out/perf-$mode.data" --no-children --sort comm --stdio 2>/dev/null | awk '$2 == "swapper" {print $1}')
  backlog=$(perf script -i "$out/wq-$mode.data" 2>/dev/null | grep -c "function sk_psock_backlog" || true)
  echo "$mode: Gbit/s $(echo "$rates" | tr '\n' ' ')| median $(echo "$rates" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'); idle $idle of the samples; sk_psock_backlog runs in 5 × 200 MiB: $backlog"
  perf report -i "$out/perf-$mode.data" --no-children --sort comm,sym --stdio -g none 2>/dev/null | grep -v '^#' | grep '%' | head -12 >"$out/top-$mode.txt" || true
}

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, kernel $(uname -r); output in $out"

run_mode sockmap
run_mode splice
echo "top symbols: $out/top-sockmap.txt, $out/top-splice.txt"
