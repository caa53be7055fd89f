#!/usr/bin/env bash
# The install, checked from the build directory (registered in tests/CMakeLists.txt):
#   install_check.sh layout BUILD_DIR MAN_PAGES   what `cmake --install` puts where, for /usr and
#                                                 another prefix; man pages that cover every flag
#   install_check.sh verify BUILD_DIR             systemd-analyze verify: the unit as installed,
#                                                 and with the sockmap drop-in (exit 77: skipped)
#   install_check.sh sockmap-caps BUILD_DIR       the drop-in's capabilities are enough: the proxy
#                                                 as nobody with only those relays in sockmap (77:
#                                                 skipped where not root or the kernel lacks it)
# shellcheck disable=SC2016  # '$SPLICEPROXY_OPTS' is the unit's text, not this shell's variable
set -euo pipefail
what=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_check: FAIL: $*" >&2; exit 1; }
install_to() {   # install_to ROOT PREFIX
  DESTDIR=$1 cmake --install "$build" --prefix "$2" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "cmake --install"; }
}
programs=(proxy proxy-top tcp_ping_server tcp_ping_client)

if [[ $what == layout ]]; then
  man=$3
  r=$tmp/usr-root
  install_to "$r" /usr
  for p in "${programs[@]}"; do
    [[ -x $r/usr/bin/$p ]] || fail "no /usr/bin/$p"
    [[ $man == ON ]] || continue
    page=$r/usr/share/man/man1/$p.1
    [[ -s $page ]] || fail "no man page $page"
    grep -q '^\.SH SYNOPSIS' "$page" || fail "$p.1: no SYNOPSIS section"
    grep -q '^\.SH OPTIONS' "$page" || fail "$p.1: no OPTIONS section"
    grep -qF "\"$("$r/usr/bin/$p" --version)\"" "$page" || fail "$p.1: not the version that $p --version prints"
    # Every long flag of the program's --help is in its page: the page is its --help.
    for flag in $("$r/usr/bin/$p" --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
      grep -qF -- "${flag//-/\\-}" "$page" || fail "$p.1 lacks $flag"
    done
  done
  unit=$r/usr/lib/systemd/system/spliceproxy.service
  [[ -f $unit ]] || fail "no unit"
  grep -qx 'ExecStart=/usr/bin/proxy $SPLICEPROXY_OPTS' "$unit" || fail "unit's ExecStart: $(grep ExecStart "$unit")"
  grep -qx 'EnvironmentFile=-/etc/default/spliceproxy' "$unit" || fail "unit's EnvironmentFile (prefix /usr: /etc)"
  grep -q '^SPLICEPROXY_OPTS=' "$r/etc/default/spliceproxy" || fail "no /etc/default/spliceproxy"
  [[ -f $r/usr/share/doc/spliceproxy/sockmap.conf ]] || fail "no sockmap drop-in in the docs"
  # Another prefix: the unit points into it, the flags file lives in its etc/, and an operator's
  # edit of that file survives the next install.
  o=$tmp/opt-root
  install_to "$o" /opt/sp
  grep -qx 'ExecStart=/opt/sp/bin/proxy $SPLICEPROXY_OPTS' "$o/opt/sp/lib/systemd/system/spliceproxy.service" || fail "prefix /opt/sp: ExecStart"
  grep -qx 'EnvironmentFile=-/opt/sp/etc/default/spliceproxy' "$o/opt/sp/lib/systemd/system/spliceproxy.service" || fail "prefix /opt/sp: EnvironmentFile"
  echo 'SPLICEPROXY_OPTS="-r 192.0.2.1:80"' >"$o/opt/sp/etc/default/spliceproxy"
  install_to "$o" /opt/sp
  grep -q 192.0.2.1 "$o/opt/sp/etc/default/spliceproxy" || fail "a second install overwrote the edited flags file"
  echo "install layout ok: $(cd "$r" && find . -type f | wc -l) files under /usr and /etc; man pages: $man"
  exit 0
fi

if [[ $what == verify ]]; then
  command -v systemd-analyze >/dev/null || { echo "SKIPPED: systemd-analyze is not installed (apt-get install systemd)"; exit 77; }
  r=$tmp/root
  # --root: the unit's ExecStart (/usr/bin/proxy) must be in the install, and the units it depends
  # on (sysinit.target, network-online.target ...) are this machine's, copied in.
  mkdir -p "$r/usr/lib/systemd"
  cp -a "$(realpath /lib/systemd/system)" "$r/usr/lib/systemd/"
  install_to "$r" /usr
  verify() {
    # MANPATH: verify runs `man proxy(1)` for Documentation=, and the page is in the install.
    MANPATH=$r/usr/share/man systemd-analyze verify --root="$r" "$1" >"$tmp/verify.log" 2>&1 ||
      { cat "$tmp/verify.log" >&2; fail "systemd-analyze verify $1"; }
    # verify exits 0 on some complaints (an unknown key, a bad value): none is accepted either.
    if [[ -s $tmp/verify.log ]]; then cat "$tmp/verify.log" >&2; fail "systemd-analyze verify $1 complained"; fi
  }
  verify /usr/lib/systemd/system/spliceproxy.service
  mkdir -p "$r/etc/systemd/system/spliceproxy.service.d"
  cp "$r/usr/share/doc/spliceproxy/sockmap.conf" "$r/etc/systemd/system/spliceproxy.service.d/"
  verify /usr/lib/systemd/system/spliceproxy.service
  echo "systemd-analyze verify: the unit ok, with the sockmap drop-in ok ($(systemd-analyze --version | head -n 1))"
  exit 0
fi
if [[ $what == sockmap-caps ]]; then
  if [[ $(id -u) -ne 0 ]] || ! command -v setpriv >/dev/null; then echo "SKIPPED: needs root and setpriv"; exit 77; fi
  bin=$build/bin
  # The drop-in's AmbientCapabilities=CAP_BPF CAP_PERFMON ... as setpriv's +bpf,+perfmon,...
  caps=$(sed -n 's/^AmbientCapabilities=//p' "$(dirname "$0")/../dist/sockmap.conf" | tr 'A-Z ' 'a-z\n' | sed -n 's/^cap_/+/p' | paste -sd,)
  [[ -n $caps ]] || fail "no AmbientCapabilities in dist/sockmap.conf"
  chmod 0777 "$tmp"   # nobody makes its stats socket here
  port_of() { for _ in $(seq 50); do sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | grep . && return; sleep 0.1; done; return 1; }
  "$bin/tcp_ping_server" -s 127.0.0.1:0 >"$tmp/server.log" 2>&1 &
  server=$!
  trap 'kill $server ${proxy:-} 2>/dev/null; rm -rf "$tmp"' EXIT
  server_port=$(port_of "$tmp/server.log") || fail "tcp_ping_server did not say its port"
  run_proxy() {   # run_proxy NAME SETPRIV-ARGS...: the mode in effect, after a pingpong through it
    "${@:2}" "$bin/proxy" -s 127.0.0.1:0 -r "127.0.0.1:$server_port" --mode sockmap --stats "unix:$tmp/$1.stats" >"$tmp/$1.log" 2>&1 &
    proxy=$!
    local port
    port=$(port_of "$tmp/$1.log") || { cat "$tmp/$1.log" >&2; fail "$1: the proxy did not start"; }
    "$bin/tcp_ping_client" -s "127.0.0.1:$port" -c 2 -n 200 >"$tmp/$1.client" 2>&1 || { cat "$tmp/$1.client" >&2; fail "$1: pingpong"; }
    nc -U -q1 "$tmp/$1.stats" </dev/null | jq -r .mode_effective
    kill -TERM "$proxy"; wait "$proxy" || true
  }
  if [[ $(run_proxy root env) != sockmap ]]; then
    echo "SKIPPED: even as root the proxy falls back from sockmap here: $(grep -m1 warn "$tmp/root.log")"; exit 77
  fi
  mode=$(run_proxy dropin setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs --inh-caps="$caps" --ambient-caps="$caps")
  [[ $mode == sockmap ]] || { cat "$tmp/dropin.log" >&2; fail "as nobody with $caps (the drop-in's) the proxy relays in $mode, not sockmap"; }
  echo "sockmap drop-in: as nobody with only $caps the proxy relays in sockmap"
  exit 0
fi
fail "unknown check '$what'"
