# shellcheck shell=bash disable=SC2154  # prog and out come from the caller
# Shared by scripts/container-check and scripts/swarm-check (sourced, not run): steps with
# timings, free ports, the debootstrap'ed debian:bookworm base, and a private dockerd.
# The caller sets `prog` (its name, for messages) and `out` (its output directory) first.

cc_t0=$(date +%s)
declare -a timing=()
step_t0=0
step() { step_t0=$(date +%s); echo; echo "=== $* ($(( step_t0 - cc_t0 )) s)"; }
done_step() { timing+=("$(printf '%-34s %5d s' "$1" $(( $(date +%s) - step_t0 )))"); }
fail() { echo "$prog: FAIL: $*" >&2; exit 1; }
bad_usage() { echo "$prog: $1" >&2; usage >&2; exit 2; }
# The trap's message goes where the script's output went, even when the signal comes while a
# command's output is redirected to a file.
exec {sp_console}>&1
interrupted() { echo >&"$sp_console"; echo "$prog: interrupted: $1" >&"$sp_console"; exit 130; }

# ---- Ctrl-C that works: a script without job control ignores SIGINT while a foreground command
# that did not die of it runs (docker's client handles it; `timeout` puts its command in a process
# group of its own, out of the terminal's reach). Long commands therefore run in the background and
# are waited for with the wait builtin, which a trapped signal interrupts at once; the caller's
# cleanup ends what is still running by its PID (bg_stop).
bg_pid=""
bounded() {   # bounded SECONDS COMMAND...: its exit status (124 when it ran out of time)
  local rc=0
  timeout "$1" "${@:2}" &
  bg_pid=$!
  wait "$bg_pid" || rc=$?
  bg_pid=""
  return "$rc"
}
pause() { sleep "$1" & wait $!; }
bg_stop() {   # SIGTERM (timeout passes it on), then wait: it may be cleaning up after itself
  [[ -n $bg_pid ]] || return 0
  kill -TERM "$bg_pid" 2>/dev/null
  wait "$bg_pid" 2>/dev/null
  bg_pid=""
  return 0
}

# ---- free ports on this machine (--network host shares them), below the ephemeral range --------
picked=""
used_ports() {
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | while read -r _ local_addr _; do
    [[ $local_addr == *:* ]] && echo $(( 16#${local_addr##*:} ))
  done
}
pick_port() {
  local low p used
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  used=" $(used_ports | tr '\n' ' ') $picked "
  for _ in $(seq 200); do
    p=$(( 20000 + RANDOM % (low - 1 - 20000) ))
    [[ $used == *" $p "* ]] || { picked+=" $p"; echo "$p"; return 0; }
  done
  return 1
}

# ---- the base image's root file system: debootstrap from this machine's apt mirror ---------------
base_cache=/var/cache/spliceproxy
base_tar=$base_cache/debian-bookworm-minbase.tar
# The mirror this machine's apt uses for bookworm (deb822 .sources or a one-line sources.list).
apt_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
         { uri = ""; ok = 0
           for (i = 1; i <= NF; i++) {
             if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
             if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) ok = 1
           }
           if (ok && uri != "") { print uri; exit } }' "$f"
  done | head -n 1 | grep . && return 0
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" && $0 ~ / bookworm / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' | grep .
}
# Makes $base_tar unless it is there (kept: later runs, and the other engine, skip debootstrap).
ensure_base_tar() {
  [[ -s $base_tar ]] && return 0
  local mirror rootfs=$base_cache/rootfs.tmp
  mirror=$(apt_mirror) || fail "no bookworm mirror in /etc/apt/sources.list{,.d}"
  echo "debootstrap --variant=minbase bookworm from $mirror"
  mkdir -p "$base_cache"
  rm -rf "$rootfs"
  timeout 1200 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$out/debootstrap.log" 2>&1 ||
    { tail -n 20 "$out/debootstrap.log" >&2; fail "debootstrap"; }
  # Like the official image: this machine's apt sources (bookworm, -updates, -security), no caches.
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    rm -f "$rootfs/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/*.sources "$rootfs/etc/apt/sources.list.d/"
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
  tar -C "$rootfs" --numeric-owner -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
  rm -rf "$rootfs"
}

# ---- a private dockerd: its own socket, data, run directory and pid file; no iptables, no bridge --
# Never another dockerd: the system's (if any) keeps /run/docker.sock and /var/lib/docker.
sp_docker_sock=/run/spliceproxy-docker.sock
sp_docker_data=/var/lib/spliceproxy-docker   # kept between runs: the layer cache
sp_docker_exec=/run/spliceproxy-docker
sp_docker_pidfile=/run/spliceproxy-docker.pid
sp_docker_lock=/run/spliceproxy-docker.lock
dockerd_pid=""
# Debian's client (docker.io); /usr/local/bin may hold another one.
docker_bin=/usr/bin/docker
[[ -x $docker_bin ]] || docker_bin=$(command -v docker || echo docker)
dk() { "$docker_bin" -H "unix://$sp_docker_sock" "$@"; }

# Starts the private dockerd unless one of ours already answers (then $dockerd_pid stays empty and
# dockerd_stop leaves it alone). One caller at a time: the lock is held until this shell exits.
# A caller that already holds the lock and runs the daemon (container-check running swarm-check)
# exports SP_DOCKERD_HELD=1.
sp_lock_fd=""
dockerd_start() {
  if [[ ${SP_DOCKERD_HELD:-0} != 1 ]]; then
    exec {sp_lock_fd}>"$sp_docker_lock"
    if ! flock -n "$sp_lock_fd"; then
      echo "waiting for another run of the private dockerd to finish (lock $sp_docker_lock, at most 30 min)"
      flock -w 1800 "$sp_lock_fd" || fail "the private dockerd stayed locked for 30 min"
    fi
  fi
  if dk info >/dev/null 2>&1; then
    echo "a private dockerd already answers on $sp_docker_sock: using it"
    return 0
  fi
  [[ -n $sp_lock_fd ]] || fail "SP_DOCKERD_HELD=1, but no dockerd answers on $sp_docker_sock"
  local old
  old=$(cat "$sp_docker_pidfile" 2>/dev/null || true)
  if [[ -n $old ]] && tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -q -- "--exec-root $sp_docker_exec"; then
    # Ours, left by a run that was killed, and no longer answering: end it by its PID.
    echo "stopping a stale private dockerd (pid $old)"
    kill -TERM "$old" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$old" 2>/dev/null || break; sleep 1; done
    kill -KILL "$old" 2>/dev/null || true
  fi
  mkdir -p "$sp_docker_data" "$sp_docker_exec"
  # Its own session: a Ctrl-C in the terminal reaches the script, which then removes what it
  # deployed and stops dockerd, instead of reaching dockerd first.
  setsid dockerd --iptables=false --ip6tables=false --bridge=none \
    --data-root "$sp_docker_data" --exec-root "$sp_docker_exec" --pidfile "$sp_docker_pidfile" \
    -H "unix://$sp_docker_sock" >"$out/dockerd.log" 2>&1 {sp_lock_fd}>&- {sp_console}>&- &
  dockerd_pid=$!
  for _ in $(seq 60); do
    dk info >/dev/null 2>&1 && { echo "dockerd $(dk version -f '{{.Server.Version}}') (pid $dockerd_pid) on $sp_docker_sock"; return 0; }
    kill -0 "$dockerd_pid" 2>/dev/null || { tail -n 20 "$out/dockerd.log" >&2; dockerd_pid=""; fail "dockerd exited at start"; }
    sleep 1
  done
  tail -n 20 "$out/dockerd.log" >&2
  fail "dockerd did not answer in 60 s (log: $out/dockerd.log)"
}

# Stops the dockerd this shell started, by its PID (SIGTERM stops its containerd and containers).
dockerd_stop() {
  [[ -n $dockerd_pid ]] || return 0
  kill -TERM "$dockerd_pid" 2>/dev/null || true
  for _ in $(seq 30); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 1; done
  if kill -0 "$dockerd_pid" 2>/dev/null; then
    echo "$prog: dockerd (pid $dockerd_pid) still running after 30 s: SIGKILL" >&2
    kill -KILL "$dockerd_pid" 2>/dev/null || true
  fi
  wait "$dockerd_pid" 2>/dev/null || true
  dockerd_pid=""
}

# Summary lines of a soak verdict JSON (mean MB/s, fds, RSS, CPU per worker, mode in effect).
verdict_line() {
  jq -r --arg what "$1" '"\($what): \(.summary.mean_bytes_per_s / 1e6 * 10 | round / 10) MB/s mean,"
      + " mode \(.mode) (in effect \(.mode_effective // .mode)),"
      + " fds \(.summary.open_fds.min)..\(.summary.open_fds.max),"
      + " RSS \((.summary.rss_bytes.first_quarter_median // 0) / 1048576 * 100 | round / 100) -> \((.summary.rss_bytes.last_quarter_median // 0) / 1048576 * 100 | round / 100) MiB,"
      + " CPU " + ([.summary.cpu_workers[]? | "w\(.id) \(.user_s + .sys_s | . * 10 | round / 10) s"] | join(" "))' "$2"
}
