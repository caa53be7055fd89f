#!/usr/bin/env bash
# docs/sockmap.md, "A hand-off to splice (tried, not kept)": the reproducer of its data loss.
# Applies detach-to-splice.patch to commit 2cca941 in a temporary worktree (WT, default
# /tmp/sp-handoff), builds it, and runs REPS (default 5) interleaved 3 s bulk echoes through a
# -w 1 sockmap proxy with --sockmap-bulk splice (the hand-off) and hold (as shipped), the kernel
# relay pinned (--sockmap-tcp-memory 90). Per run: bytes the client sent and got back, whether the
# client saw its echo complete, and the worker's sockmap_handoffs. Expected on Linux 6.18: every
# run with a hand-off loses nearly everything sent after it; hold loses nothing.
# Needs root (CAP_BPF, CAP_NET_ADMIN), cmake, ninja, clang, libbpf, jq, nc (./scripts/setup-deps).
set -uo pipefail
reps=${1:-5}
wt=${WT:-/tmp/sp-handoff}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
if [ ! -x "$wt/build/bin/proxy" ]; then
  set -e
  git -C "$repo" worktree add -f "$wt" 2cca941 >/dev/null
  git -C "$wt" apply "$here/detach-to-splice.patch"
  cmake -S "$wt" -B "$wt/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$wt/build" proxy tcp_ping_server tcp_ping_client >/dev/null
  set +e
fi
B=$wt/build/bin
px= srv=
trap 'kill $px $srv 2>/dev/null' EXIT
printf '%-4s %-7s %14s %14s %-5s %s\n' rep bulk sent echoed ok handoffs
for rep in $(seq 1 "$reps"); do
  for bulk in splice hold; do
    "$B/tcp_ping_server" -s 127.0.0.1 -p 29541 -w 1 >/dev/null 2>&1 & srv=$!
    "$B/proxy" -s 127.0.0.1 -p 29540 -r 127.0.0.1:29541 --mode sockmap -w 1 --sockmap-bulk $bulk \
      --sockmap-tcp-memory 90 --stats 127.0.0.1:29542 >/dev/null 2>&1 & px=$!
    for _ in $(seq 30); do nc -z 127.0.0.1 29540 && break; sleep 0.1; done
    r=$(timeout 30 "$B/tcp_ping_client" -s 127.0.0.1 -p 29540 -c 1 --mode stream -t 3 --json 2>/dev/null | tail -1)
    h=$(echo stats | nc -q1 127.0.0.1 29542 | jq -r '.workers[0].counters.sockmap_handoffs')
    printf '%-4s %-7s %14s %14s %-5s %s\n' "$rep" $bulk "$(jq -r .bytes_sent <<<"$r")" \
      "$(jq -r .bytes_received <<<"$r")" "$(jq -r .ok <<<"$r")" "$h"
    kill $px $srv; wait $px $srv 2>/dev/null; px= srv=
  done
done
