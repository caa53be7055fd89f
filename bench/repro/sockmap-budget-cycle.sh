#!/usr/bin/env bash
# A 2-connection 3 s bulk echo (tcp_ping_client --mode stream -c 2, every byte checked) through a
# fresh 1-worker sockmap proxy, RUNS times; prints each run whose client reported an error (a stall
# shows as "echoed nothing for 5 s after the end") with the proxy's holds and widenings, then the
# count. Found the cycle in server/paths/sockmap_budget.h: two widened sessions held at the 64 KiB
# floor stalled 3 of 30 runs (built with that rule); the shipped rule 0 of 40.
# Needs root, jq, nc; ports 25212-25214. BIN: the binaries (default build/bin).
#   [CONNECTIONS=2] sockmap-budget-cycle.sh PROXY [RUNS] [PROXY ARGS...]
set -uo pipefail
if [[ $# -lt 1 || $1 == -* ]]; then sed -n 2,9p "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; fi
proxy=$1; runs=${2:-30}; shift; shift || true
B=${BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}
"$B/tcp_ping_server" -s 127.0.0.1 -p 25212 -w 1 >/dev/null 2>&1 & srv=$!
px=
trap 'kill $srv $px 2>/dev/null' EXIT
bad=0
for i in $(seq "$runs"); do
  "$proxy" -s 127.0.0.1:25214 -r 127.0.0.1:25212 --mode sockmap --stats 127.0.0.1:25213 -w 1 "$@" >/dev/null 2>&1 & px=$!
  for _ in $(seq 30); do nc -z 127.0.0.1 25214 && break; sleep 0.1; done
  r=$(timeout 30 "$B/tcp_ping_client" -s 127.0.0.1 -p 25214 -c "${CONNECTIONS:-2}" --mode stream -t 3 --json 2>/dev/null | tail -1)
  stats=$(echo stats | timeout 5 nc -q1 127.0.0.1 25213 | jq -c '[.workers[].counters | {sockmap_holds, sockmap_widened}]')
  if [[ $(echo "$r" | jq '.errors.total' 2>/dev/null) != 0 ]]; then
    bad=$((bad + 1)); echo "run $i: $(echo "$r" | jq -r '.first_error // "no result"') $stats"
  fi
  kill $px; wait $px 2>/dev/null; px=
  echo "run $i of $runs done" >&2
done
echo "$bad of $runs failed"
[[ $bad == 0 ]]
