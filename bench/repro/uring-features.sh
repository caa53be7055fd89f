#!/usr/bin/env bash
# --mode uring's kernel features side by side (docs/uring.md, "Kernel features, and what each
# measured"): 1 KiB ping-pong through one proxy worker at 1 and 64 connections closed-loop and at a
# fixed rate over 64 connections, each configuration in turn within every repetition (interleaved),
# medians of the client's rate and p50, the proxy's CPU per message (from its stats), the whole
# machine's (/proc/stat: user, nice, system, irq and softirq time over the client's run, not steal:
# client, server and kernel included) and
# io_uring_enter calls and requests (SQEs) per message.
#   bench/repro/uring-features.sh [REPS] [SECONDS]        defaults 5 and 3; needs build/bin, jq, nc
# Configurations: CONFIGS='--mode=uring|--mode=uring --uring-features=none|...' (| separated).
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=${1:-5}; secs=${2:-3}
bin=build/bin
IFS='|' read -r -a configs <<<"${CONFIGS:---mode=uring|--mode=uring --uring-features=none|--mode=uring --uring-features=all|--mode=rw}"
server_port=19100; proxy_port=19101; stats_port=19102
out=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
"$bin/tcp_ping_server" -p $server_port >/dev/null 2>&1 & pids+=($!)
sleep 0.3
lscpu | sed -n 's/^Model name: *//p' | head -n 1 | sed 's/^/CPU: /'
for workload in "1" "64" "64@20000"; do
  conns=${workload%@*}; rate=""; [[ $workload == *@* ]] && rate=${workload#*@}
  for rep in $(seq "$reps"); do
    for i in "${!configs[@]}"; do
      # shellcheck disable=SC2086  # a configuration is several flags
      timeout 60 "$bin/proxy" -s 127.0.0.1:$proxy_port -r 127.0.0.1:$server_port -w 1 \
        --stats 127.0.0.1:$stats_port ${configs[$i]} >/dev/null 2>&1 & proxy=$!; pids+=($proxy)
      sleep 0.4
      read -r busy0 < <(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
      timeout $((secs + 30)) "$bin/tcp_ping_client" -p $proxy_port -c "$conns" -t "$secs" -l 1024 \
        ${rate:+--rate $rate} --json >"$out/client" 2>/dev/null || true
      read -r busy1 < <(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
      echo stats | timeout 5 nc -q1 127.0.0.1 $stats_port >"$out/stats" || true
      kill "$proxy"; wait "$proxy" 2>/dev/null || true
      jq -c --slurpfile s "$out/stats" --arg w "$workload" --argjson i "$i" \
          --argjson machine "$((busy1 - busy0))" --argjson hz "$(getconf CLK_TCK)" '{w: $w, i: $i,
          machine_cpu: ($machine / $hz),
          rate: .throughput.messages_per_s, p50: .latency_us.p50, msgs: .messages,
          cpu: ($s[0].process.cpu.user_s + $s[0].process.cpu.sys_s),
          enters: ([$s[0].workers[].counters.uring_enters] | add),
          sqes: ([$s[0].workers[].counters.uring_submissions] | add)}' "$out/client" >>"$out/runs.jsonl" || true
      printf '.' >&2
    done
  done
done
echo >&2
python3 - "$out/runs.jsonl" "${configs[@]}" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
configs = sys.argv[2:]
print(f"{'workload':10} {'configuration':45} {'msg/s':>8} {'p50 us':>8} {'CPU us/msg':>11} {'machine us/msg':>15} {'enters/msg':>11} {'SQEs/msg':>9}")
for w in dict.fromkeys(r["w"] for r in runs):
    for i, name in enumerate(configs):
        rs = [r for r in runs if r["w"] == w and r["i"] == i and r["msgs"]]
        if not rs: continue
        med = lambda xs: statistics.median(xs)
        print(f"{w:10} {name:45} {med([r['rate'] for r in rs]):8.0f} {med([r['p50'] for r in rs]):8.1f} "
              f"{med([r['cpu'] * 1e6 / r['msgs'] for r in rs]):11.2f} {med([r['machine_cpu'] * 1e6 / r['msgs'] for r in rs]):15.2f} "
              f"{med([r['enters'] / r['msgs'] for r in rs]):11.3f} "
              f"{med([r['sqes'] / r['msgs'] for r in rs]):9.2f}")
PY
