#!/bin/bash
# Reproducer (issue 21): the kernel's TCP memory (/proc/net/sockstat "TCP: ... mem", pages) that
# sessions leave behind. For each mode and workload, RUNS bulk sessions of 3 s through one fresh
# 1-worker proxy; prints the pages counted before, after the runs (proxy still up, every session
# closed) and after the proxy exited, with the relay's holds. The kernel caches up to
# net.core.mem_pcpu_rsv pages per CPU (256 here), so a delta below 256 x CPUs is noise.
#   bench/repro/sockmap-tcp-memory.sh [RUNS]    (repository root, as root; BIN=dir MODES="sockmap splice")
B=${BIN:-build/bin}
runs=${1:-10}
pages() { awk '/^TCP:/ { print $NF }' /proc/net/sockstat; }
for mode in ${MODES:-sockmap splice}; do
  for workload in echo sink; do
    server_flags=(); client_flags=(--mode stream -t 3)
    [[ $workload == sink ]] && server_flags=(--sink) && client_flags+=(--no-echo)
    "$B/tcp_ping_server" -p 29811 "${server_flags[@]}" >/dev/null 2>&1 & S=$!
    # --sockmap-tcp-memory 300: past the guard's mark (the leak this measures) sessions would go to splice.
    "$B/proxy" --mode "$mode" -w 1 -p 29810 -c 29811 --sockmap-tcp-memory 300 --stats 127.0.0.1:29812 2>/dev/null & P=$!
    trap 'kill $P $S 2>/dev/null' EXIT
    sleep 0.5
    before=$(pages) failed=0
    for _ in $(seq 1 "$runs"); do
      timeout 30 "$B/tcp_ping_client" -p 29810 "${client_flags[@]}" --json 2>/dev/null | tail -n 1 | jq -e .ok >/dev/null ||
        failed=$((failed + 1))
    done
    sleep 1
    after=$(pages)
    holds=$(echo stats | nc -q1 127.0.0.1 29812 | jq '.workers[0].counters.sockmap_holds // 0')
    kill $P $S; wait $P $S 2>/dev/null
    sleep 1
    echo "$mode $workload: $runs runs ($failed failed), $holds holds; TCP pages before $before," \
      "after the runs $after ($((after - before)) more), after the proxy exited $(pages) ($(($(pages) - before)) more)"
  done
done
