#!/usr/bin/env bash
# A/B of two proxy binaries in --mode sockmap where sessions share one worker (docs/sockmap.md: made
# for the per-worker hold threshold of commit 13a85f7, B, against its parent, A): 2 parallel 200 MB
# iperf3 uploads and downloads, one 200 MB upload, and a 3 s two-way bulk echo over 2 connections
# (tcp_ping_client --mode stream, every byte checked). 1-worker proxy on loopback,
# REPS interleaved repetitions (default 5), medians printed with the holds each side counted.
# Needs root, iperf3, jq, nc; ports 25210-25213.
#   [WORKLOADS="down-P2 ..."] sockmap-budget-ab.sh PROXY_A PROXY_B [REPS]
set -euo pipefail
if [[ $# -lt 2 || ${1:-} == -* ]]; then sed -n 2,9p "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; fi
for tool in iperf3 jq nc; do command -v $tool >/dev/null || { echo "sockmap-budget-ab.sh: needs $tool" >&2; exit 2; }; done
here=$(cd "$(dirname "$0")/../.." && pwd)
bin_dir=${BIN_DIR:-$here/build/bin}
reps=${3:-5}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
iperf3 -s -p 25211 >/dev/null 2>&1 & pids+=($!)
"$bin_dir/tcp_ping_server" -s 127.0.0.1 -p 25212 -w 1 >/dev/null 2>&1 & pids+=($!)
sleep 0.3
declare -A res
holds() { echo stats | timeout 5 nc -q1 127.0.0.1 25213 | jq '[.workers[].counters.sockmap_holds] | add'; }
for rep in $(seq "$reps"); do
  for side in A B; do
    bin=$1; [[ $side == B ]] && bin=$2
    for work in ${WORKLOADS:-up-P2 down-P2 up-P1 echo-c2}; do
      remote=25211; [[ $work == echo-c2 ]] && remote=25212
      "$bin" -s 127.0.0.1:25210 -r 127.0.0.1:$remote --mode sockmap --stats 127.0.0.1:25213 -w 1 >/dev/null 2>&1 & px=$!
      sleep 0.5
      case $work in
        up-P2)   rate=$(timeout 60 iperf3 -c 127.0.0.1 -p 25210 -n 200M -P 2 -J | jq -r 'if .error then "reset" else (.end.sum_received.bits_per_second / 1e9 * 10 | round / 10 | tostring) end' || echo failed) ;;
        down-P2) rate=$(timeout 60 iperf3 -c 127.0.0.1 -p 25210 -n 200M -P 2 -R -J | jq -r 'if .error then "reset" else (.end.sum_received.bits_per_second / 1e9 * 10 | round / 10 | tostring) end' || echo failed) ;;
        up-P1)   rate=$(timeout 60 iperf3 -c 127.0.0.1 -p 25210 -n 200M -J | jq -r 'if .error then "reset" else (.end.sum_received.bits_per_second / 1e9 * 10 | round / 10 | tostring) end' || echo failed) ;;
        echo-c2) rate=$(timeout 30 "$bin_dir/tcp_ping_client" -s 127.0.0.1 -p 25210 -c 2 --mode stream -t 3 --json 2>/dev/null | tail -1 |
                        jq -r 'if (.errors.mismatches + .errors.short_reads + .errors.resets) > 0 then "errors" else (.throughput.bytes_per_s / 1e6 | floor | tostring) end' || echo failed) ;;
      esac
      res[$side-$work]+=" $rate"
      res[$side-$work-holds]+=" $(holds || echo -)"
      kill "$px"; wait "$px" 2>/dev/null || true
    done
  done
  echo "repetition $rep of $reps done" >&2
done
median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); else print "-"}'; }
for work in ${WORKLOADS:-up-P2 down-P2 up-P1 echo-c2}; do
  unit="Gbit/s"; [[ $work == echo-c2 ]] && unit="MB/s"
  for side in A B; do
    key=$side-$work
    echo "$key $unit:${res[$key]} | median $(echo "${res[$key]}" | median) | holds${res[$key-holds]}"
  done
done
