#!/usr/bin/env bash
# Reproducer kept for a kernel warning seen once (2026-12-07, issue 24): a scratch build whose
# sessions shrink their sockets' buffers to 90 KiB mid-stream (as the reverted --socket-memory
# caps of 2026-12-06 did, which reset 36 and 48 uring sessions with EFAULT in a crowd) and which
# checks every io_uring send's length against its chunk and its result. In one of the first runs
# of 2,000 x 2 MiB a session was reset and the kernel logged "WARNING ... ucopysize.h:57
# tcp_sendmsg_locked" from an io-wq worker's io_send (a copy of more than INT_MAX bytes refused:
# EFAULT, nothing sent); ~55 further runs reproduced neither, and the checks never fired.
# The product never shrinks a uring socket's buffers mid-stream.
#
# Builds the patched tree in a temporary worktree of HEAD (about 2 minutes), then runs RUNS
# crowds per mode and prints per run the client's errors, the sessions that ended with EFAULT
# ("Bad address") and the lines of the send checks ("DBG"); exit 1 if any appeared. The kernel's
# WARN_ON_ONCE prints once per boot: dmesg shows whether it ever fired.
#   bench/repro/uring-midstream-caps/run.sh [RUNS] [MODES]     defaults 10 and "uring rw"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
runs=${1:-10}; modes=${2:-uring rw}
tree=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  git -C "$repo" worktree remove --force "$tree" >/dev/null 2>&1 || rm -rf "$tree"
}
trap cleanup EXIT
trap 'echo " interrupted" >&2; exit 130' INT TERM
git -C "$repo" worktree add --detach "$tree" HEAD >/dev/null
git -C "$tree" apply "$here/midstream-caps.patch"
cmake -S "$tree" -B "$tree/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$tree/build" proxy tcp_ping_client tcp_ping_server >/dev/null
bin=$tree/build/bin
found=0
for i in $(seq "$runs"); do
  for mode in $modes; do
    port=$((10000 + RANDOM % 20000))  # below the ephemeral range: 4,000 sockets take many ports
    "$bin/tcp_ping_server" -p $port -w 2 >/dev/null 2>&1 & s=$!; pids+=($s)
    "$bin/proxy" -w 2 --mode "$mode" -s 127.0.0.1:$((port + 1)) -r 127.0.0.1:$port --stats off --log-sessions \
      >"$tree/proxy.log" 2>&1 & x=$!; pids+=($x)
    sleep 0.3
    timeout 90 "$bin/tcp_ping_client" -p $((port + 1)) -c 2000 -T 2 -l 2M -n 1 --stall 5 --json \
      >"$tree/client.json" 2>&1 || true
    kill $x $s 2>/dev/null || true; wait $x $s 2>/dev/null || true
    efault=$(grep -c 'Bad address' "$tree/proxy.log" || true)
    dbg=$(grep -c 'DBG' "$tree/proxy.log" || true)
    echo "run $i $mode: $(tail -n 1 "$tree/client.json" | jq -c '.errors' 2>/dev/null || echo '?') efault=$efault dbg=$dbg"
    if ((efault + dbg > 0)); then found=1; grep -m 5 'DBG\|Bad address' "$tree/proxy.log"; fi
  done
done
exit $found
