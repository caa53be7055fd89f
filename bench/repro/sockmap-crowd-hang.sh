#!/bin/bash
# Reproducer (issue 21, a crowd that never finished): 2,000 connections each echoing 2 MiB at once
# through --mode sockmap, a fresh server and proxy per run. With every session's destination send
# buffers forced to 16 MiB (commit f6cfa0a and before), 4 runs of 8 never finished: a pair of
# sockets, the proxy's to the server and the server's, each at RTO backoff 7-8 and dropping the
# other's segments (bpftrace on skb:kfree_skb: TCP_INVALID_SEQUENCE and TCP_INVALID_END_SEQUENCE in
# tcp_validate_incoming at the server, whose window was 0 with rb ~400 KB and tb 4608; TCP_OLD_DATA at
# the proxy). Autotuned buffers 0 of 16, 256 KiB ones 0 of 8. Now widened within --memory-budget
# and narrowed at tcp_mem's first mark (server/paths/wide_buffers.h): 0 of 6 here.
# On a run that does not finish in 60 s it prints the stuck sockets (ss) and the proxy's counters.
#   bench/repro/sockmap-crowd-hang.sh [RUNS] [PROXY ARGS...]     (repository root, as root)
B=${BIN:-build/bin}
runs=${1:-8}; shift
hung=0
for r in $(seq 1 "$runs"); do
  "$B/tcp_ping_server" -s 127.0.0.1 -p 29911 -w 2 >/dev/null 2>&1 & S=$!
  "$B/proxy" --mode sockmap -s 127.0.0.1 -p 29910 -c 29911 -w 2 --stats 127.0.0.1:29912 "$@" 2>/tmp/sockmap-crowd-proxy.err & P=$!
  trap 'kill $P $S $C 2>/dev/null' EXIT
  sleep 1
  timeout 60 "$B/tcp_ping_client" -s 127.0.0.1 -p 29910 -c 2000 -T 2 -l 2M -n 1 --stall 5 --json >/tmp/sockmap-crowd-client.out 2>&1 & C=$!
  if wait $C; then
    echo "run $r: finished in $(tail -1 /tmp/sockmap-crowd-client.out | jq .duration_s) s"
  else
    hung=$((hung + 1))
    echo "run $r: did not finish in 60 s"
    ss -tnmie "sport = :29910 or dport = :29911 or sport = :29911"
    echo stats | timeout 2 nc -q1 127.0.0.1 29912 | jq -c '[.workers[].counters | with_entries(select(.key | startswith("sockmap")))]'
  fi
  kill $P $S 2>/dev/null; wait $P $S 2>/dev/null
done
echo "$hung of $runs runs did not finish"
[[ $hung -eq 0 ]]
