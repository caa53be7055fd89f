#!/usr/bin/env bash
# How much of a victim's latency beside bulk streams is its worker's doing? A 1 KiB ping-pong
# "victim" at 500 msg/s (--rate: no coordinated omission) through a -w 1 proxy, alone and then
# beside 4 bulk echo streams that go either through the SAME proxy (its one worker serves both)
# or through a SECOND proxy process (the machine is as busy, the victim's worker is not). The
# difference between the two is what the worker's turns cost the victim; what remains in the
# second is the machine's (the scheduler, 2 vCPUs for 5 busy threads). Interleaved repetitions;
# medians of p50 and p99 (µs) and of the streams' MB/s per mode and placement (issue 22).
#   bench/repro/victim-own-worker.sh [REPS] [MODES]     defaults 5 and "rw uring"; needs build/bin, jq
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=${1:-5}; modes=${2:-rw uring}
bin=build/bin
out=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$out"; }
trap cleanup EXIT
trap 'echo " interrupted" >&2; exit 130' INT TERM
server=19120; victim_proxy=19121; stream_proxy=19122
"$bin/tcp_ping_server" -p $server >/dev/null 2>&1 & pids+=($!)
sleep 0.3
lscpu | sed -n 's/^Model name: *//p' | head -n 1 | sed 's/^/CPU: /'
victim() { "$bin/tcp_ping_client" -p $victim_proxy --rate 500 -t 2 -l 1K --json | tail -n 1 | jq -c '[.latency_us.p50, .latency_us.p99]'; }
for rep in $(seq "$reps"); do
  for mode in $modes; do
    for where in same second; do
      "$bin/proxy" -w 1 --mode "$mode" -s 127.0.0.1:$victim_proxy -r 127.0.0.1:$server --stats off >/dev/null 2>&1 & a=$!
      "$bin/proxy" -w 1 --mode "$mode" -s 127.0.0.1:$stream_proxy -r 127.0.0.1:$server --stats off >/dev/null 2>&1 & b=$!
      pids+=($a $b)
      sleep 0.3
      alone=$(victim)
      port=$victim_proxy; [[ $where == second ]] && port=$stream_proxy
      timeout 15 "$bin/tcp_ping_client" -p $port --mode stream -c 4 -t 3.5 --json >"$out/streams" 2>&1 & c=$!
      sleep 0.5
      loaded=$(victim)
      wait $c || true
      mb=$(tail -n 1 "$out/streams" | jq '.bytes_received / 3.5 / 1e6 | floor')
      kill $a $b; wait $a $b 2>/dev/null || true
      echo "$mode $where $(jq -r '.[0]' <<<"$alone") $(jq -r '.[1]' <<<"$alone") $(jq -r '.[0]' <<<"$loaded") $(jq -r '.[1]' <<<"$loaded") $mb" >>"$out/runs"
      printf '.' >&2
    done
  done
done
echo >&2
med() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-6s %-7s %12s %12s %13s %13s %8s\n' mode streams "alone p50" "alone p99" "beside p50" "beside p99" "MB/s"
for mode in $modes; do
  for where in same second; do
    row=()
    for col in 3 4 5 6 7; do row+=("$(awk -v m="$mode" -v w="$where" -v c=$col '$1 == m && $2 == w {print $c}' "$out/runs" | med)"); done
    printf '%-6s %-7s %12s %12s %13s %13s %8s\n' "$mode" "$where" "${row[@]}"
  done
done
echo "(medians of $reps interleaved repetitions; latency in µs; streams: 4 bulk echo streams, through the victim's own proxy or a second one)"
