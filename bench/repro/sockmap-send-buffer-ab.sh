#!/usr/bin/env bash
# (bench/results/2026-12-01-vm-sockmap-4/NOTES.md) A/B of two proxy binaries in --mode sockmap: 200 MB iperf3 downloads (-R) and uploads through a
# 1-worker proxy on loopback, 6 interleaved repetitions, medians printed. Built for the 16 MiB
# destination send buffers: A = the tree at the commit that added them, B = the same with the
# widen_send_buffer() call removed. Needs root, iperf3, jq; ports 25200-25201.
#   sockmap-send-buffer-ab.sh PROXY_A PROXY_B
set -euo pipefail
if [[ $# -ne 2 || ${1:-} == -* ]]; then sed -n 2,6p "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; fi
for tool in iperf3 jq; do command -v $tool >/dev/null || { echo "sockmap-send-buffer-ab.sh: needs $tool" >&2; exit 2; }; done
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
iperf3 -s -p 25201 >/dev/null 2>&1 & pids+=($!)
sleep 0.3
declare -A res
for rep in 1 2 3 4 5 6; do
  for side in A B; do
    bin=$1; [[ $side == B ]] && bin=$2
    "$bin" -s 127.0.0.1:25200 -r 127.0.0.1:25201 --mode sockmap --stats off -w 1 >/dev/null 2>&1 & px=$!
    sleep 0.5
    for dir in download upload; do
      flag=(); [[ $dir == download ]] && flag=(-R)
      rate=$(timeout 30 iperf3 -c 127.0.0.1 -p 25200 -n 200M "${flag[@]}" -J |
             jq -r 'if .error then "reset" else (.end.sum_received.bits_per_second / 1e9 * 10 | round / 10 | tostring) end' || echo failed)
      res[$side-$dir]+=" $rate"
    done
    kill "$px"; wait "$px" 2>/dev/null || true
  done
  echo "repetition $rep of 6 done" >&2
done
median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); else print "-"}'; }
for key in A-download B-download A-upload B-upload; do
  echo "$key Gbit/s:${res[$key]} | median $(echo "${res[$key]}" | median)"
done
