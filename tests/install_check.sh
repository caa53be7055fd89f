#!/usr/bin/env bash
# The install, checked from the build directory (registered in tests/CMakeLists.txt):
#   install_check.sh layout BUILD_DIR MAN_PAGES   what `cmake --install` puts where, for /usr and
#                                                 another prefix; man pages that cover every flag
#   install_check.sh verify BUILD_DIR             systemd-analyze verify: the unit as installed,
#                                                 and with the sockmap drop-in (exit 77: skipped)
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
    grep -q '^\.SH SYNOPSIS' "$page" && grep -q '^\.SH OPTIONS' "$page" || fail "$p.1: no SYNOPSIS or OPTIONS section"
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
fail "unknown check '$what'"
