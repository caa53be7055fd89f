# shellcheck shell=bash
# Run by scripts/deb-check inside a bare debian:bookworm container (not on this machine): installs
# the .deb mounted at /deb, then runs the proxy with the command line its systemd unit would run
# (no systemd in the container), relays through it and reads its stats.
#   bash deb-check-inside.sh SERVER_PORT PROXY_PORT STATS_PORT
set -euo pipefail
server_port=$1 proxy_port=$2 stats_port=$3
say() { echo "[container] $*"; }
fail() { echo "[container] FAIL: $*" >&2; exit 1; }

# ---- install: the package's own Depends must bring every library its binaries need.
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/tmp/apt.log 2>&1 || { tail -n 20 /tmp/apt.log >&2; fail "apt-get update"; }
deb=$(echo /deb/spliceproxy_*.deb)
apt-get install -y -qq --no-install-recommends "$deb" >>/tmp/apt.log 2>&1 || { tail -n 20 /tmp/apt.log >&2; fail "apt-get install $deb"; }
say "installed $(dpkg-query -W -f='${Package} ${Version}' spliceproxy); it brought: $(sed -n 's/^Unpacking \([^ ]*\) .*/\1/p' /tmp/apt.log | grep -vx spliceproxy | tr '\n' ' ')"
for p in proxy proxy-top tcp_ping_server tcp_ping_client; do
  v=$("$p" --version) || fail "$p --version"
  [[ -s /usr/share/man/man1/$p.1 ]] || fail "no man page for $p"
  say "$v, man page ok"
done

# ---- the unit's command line, as an operator would set it up: the flags file edited.
unit=/usr/lib/systemd/system/spliceproxy.service
[[ -f $unit ]] || fail "no $unit"
envfile=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$unit")
sed -i "s|^SPLICEPROXY_OPTS=.*|SPLICEPROXY_OPTS=\"-s 127.0.0.1:$proxy_port -r 127.0.0.1:$server_port --stats 127.0.0.1:$stats_port\"|" "$envfile"
# The unit's EnvironmentFile, KEY="VALUE" lines as systemd reads them.
set -a
# shellcheck source=/dev/null
. "$envfile"
set +a
# ExecStart's words as systemd makes them: $NAME becomes the variable's words (split at
# whitespace), ${NAME} one word, anything else stays as it is.
read -ra words <<<"$(sed -n 's/^ExecStart=//p' "$unit")"
argv=()
for w in "${words[@]}"; do
  if [[ $w =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then read -ra more <<<"${!BASH_REMATCH[1]}"; argv+=("${more[@]}")
  elif [[ $w =~ ^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$ ]]; then argv+=("${!BASH_REMATCH[1]}")
  else argv+=("$w"); fi
done
say "ExecStart (from $unit, flags from $envfile): ${argv[*]}"
# As the unit runs it, as far as a container without systemd can: an unprivileged user
# (DynamicUser), no new privileges, no capabilities at all, the unit's descriptor limit.
ulimit -n "$(sed -n 's/^LimitNOFILE=//p' "$unit")" 2>/dev/null || say "LimitNOFILE above this container's hard limit: kept $(ulimit -n)"
unpriv=(setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs --bounding-set=-all --inh-caps=-all)

tcp_ping_server -s "127.0.0.1:$server_port" >/tmp/server.log 2>&1 &
server=$!
"${unpriv[@]}" "${argv[@]}" >/tmp/proxy.log 2>&1 &
proxy=$!
stats() {   # one snapshot from the stats socket (a line of JSON), with bash's own /dev/tcp
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$stats_port" || return 1
  printf 'stats\n' >&3
  IFS= read -r -t 5 line <&3 || { exec 3<&-; return 1; }
  exec 3<&-
  printf '%s\n' "$line"
}
for _ in $(seq 50); do stats >/dev/null 2>&1 && break; kill -0 "$proxy" 2>/dev/null || break; sleep 0.1; done
kill -0 "$proxy" 2>/dev/null || { cat /tmp/proxy.log >&2; fail "the proxy exited at start"; }
say "proxy running: $(grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs)' "/proc/$proxy/status" | tr -s '\t\n' '  ')"

# ---- bytes through it: tcp_ping_client checks every byte it gets back against its pattern.
tcp_ping_client -s "127.0.0.1:$proxy_port" -c 4 -n 2000 -l 4096 >/tmp/pingpong.txt 2>&1 || { cat /tmp/pingpong.txt >&2; fail "pingpong through the proxy"; }
say "pingpong: $(grep -E '^(messages|errors):' /tmp/pingpong.txt | tr -s ' \n' '  ')"
tcp_ping_client -s "127.0.0.1:$proxy_port" --mode stream -c 2 -t 1 >/tmp/stream.txt 2>&1 || { cat /tmp/stream.txt >&2; fail "stream through the proxy"; }
say "stream: $(grep -E '^(bytes|errors):' /tmp/stream.txt | tr -s ' \n' '  ')"

# ---- its stats, JSON over the stats socket: the sessions just relayed are counted.
snap=$(stats) || fail "no answer on the stats socket 127.0.0.1:$stats_port"
[[ $snap == *'"program":"proxy"'* ]] || fail "stats: not the proxy's: ${snap:0:200}"
totals=$(grep -o '"totals":{[^}]*' <<<"$snap")
sessions=$(grep -o '"connections_total":[0-9]*' <<<"$totals" | cut -d: -f2)
bytes=$(grep -o '"bytes":[0-9]*' <<<"$totals" | cut -d: -f2)
(( ${sessions:-0} >= 6 )) || fail "stats: totals.connections_total ${sessions:-none}, expected >= 6"
(( ${bytes:-0} > 0 )) || fail "stats: totals.bytes ${bytes:-none}"
say "stats: program proxy, mode $(grep -o '"mode_effective":"[a-z]*"' <<<"$snap" | head -n 1 | cut -d'"' -f4), $sessions sessions, $bytes bytes"

# ---- stops on SIGTERM as systemctl stop would, exit status 0.
kill -TERM "$proxy"; rc=0; wait "$proxy" || rc=$?
kill -TERM "$server"; wait "$server" || true
(( rc == 0 )) || { cat /tmp/proxy.log >&2; fail "the proxy exited $rc on SIGTERM"; }
say "SIGTERM: the proxy exited 0"
say "PASS"
