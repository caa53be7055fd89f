#!/usr/bin/env bash
# Connection churn through one proxy worker: redis-benchmark -k 0 (a new connection for every
# request, so each request costs a whole proxy session: accept, connect, relay, close) against
# redis-server, for several proxy configurations in turn within every repetition (interleaved).
# Per configuration, medians of requests (= sessions) per second, the proxy's CPU per session
# (user + system, from /proc) and the machine's (all CPUs busy, from /proc/stat), per session, and
# the median of each repetition's ratio to configuration BASE (default 1, the second: paired).
# Made for --uring-features connect (issue 24: sessions that live on the ring from the start).
#   bench/repro/uring-connect.sh [REPS] [REQUESTS]     defaults 7 and 20000; needs build/bin,
#   redis-server, redis-benchmark. CONFIGS='--mode=rw|--mode=uring|...' (| separated).
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=${1:-7}; requests=${2:-20000}; base=${BASE:-1}
bin=build/bin
IFS="|" read -r -a configs <<<"${CONFIGS:---mode=rw|--mode=uring --uring-features=defer_taskrun,linked_sends|--mode=uring}"
redis_port=19110; proxy_port=19111
out=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$out"; }
trap cleanup EXIT
trap 'echo " interrupted" >&2; exit 130' INT TERM
redis-server --port $redis_port --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 & pids+=($!)
sleep 0.5
ticks=$(getconf CLK_TCK)
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }  # user nice system irq softirq, in ticks
lscpu | sed -n 's/^Model name: *//p' | head -n 1 | sed 's/^/CPU: /'
echo "redis-benchmark -k 0 -t get -c 20 -n $requests, $reps interleaved repetitions" >&2
for rep in $(seq "$reps"); do
  for i in "${!configs[@]}"; do
    # shellcheck disable=SC2086  # a configuration is several flags
    "$bin/proxy" -s 127.0.0.1:$proxy_port -r 127.0.0.1:$redis_port -w 1 --stats off ${configs[$i]} \
      >/dev/null 2>&1 & proxy=$!; pids+=($proxy)
    sleep 0.4
    p0=$(awk '{print $14 + $15}' "/proc/$proxy/stat"); m0=$(busy); t0=$(date +%s.%N)
    rps=$(timeout 120 redis-benchmark -h 127.0.0.1 -p $proxy_port -k 0 -t get -c 20 -n "$requests" --csv 2>/dev/null |
      tail -n 1 | cut -d, -f2 | tr -d '"')
    t1=$(date +%s.%N); p1=$(awk '{print $14 + $15}' "/proc/$proxy/stat"); m1=$(busy)
    kill "$proxy"; wait "$proxy" 2>/dev/null || true
    echo "$i $rps $(( (p1 - p0) * 1000000 / ticks / requests )) $(( (m1 - m0) * 1000000 / ticks / requests ))" >>"$out/runs"
    printf '.' >&2
  done
done
echo >&2
for i in "${!configs[@]}"; do
  med() { awk -v i="$i" -v c="$1" '$1 == i {print $c}' "$out/runs" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  # per repetition: this configuration's figure over the base's of the same repetition
  ratio() { awk -v i="$i" -v b="$base" -v c="$1" '{k = int((NR - 1) / n); if ($1 == i) x[k] = $c; if ($1 == b) y[k] = $c}
      END {for (k in x) if (y[k] > 0) printf "%.3f\n", x[k] / y[k]}' n="${#configs[@]}" "$out/runs" |
      sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  printf '%-66s sessions/s %8s (%sx)  proxy CPU/session %4s us (%sx)  machine %4s us (%sx)\n' \
    "${configs[$i]}" "$(med 2)" "$(ratio 2)" "$(med 3)" "$(ratio 3)" "$(med 4)" "$(ratio 4)"
done
echo "(ratios: medians of each repetition's figure over configuration $base's in the same repetition)"
