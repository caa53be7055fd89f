"""The soak runner's command line: every flag has a SOAK_* environment variable (a flag wins over
its variable), values are checked the same way whichever way they came, and a bad one is one line
naming it, then the usage, exit 2."""

import os
import re

from spcore.modes import MODES

PROG = "soak"
DEFAULT_MODES = list(MODES)  # when no proxy binary is at hand to ask (spcore's list: every mode)


class UsageError(Exception):
    pass


def online_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1


def usage(modes=None):
    m = ", ".join(modes or DEFAULT_MODES)
    return f"""usage: soak [options]
Runs tcp_ping_server, the proxy and tcp_ping_client (-n 0: until stopped) for a long time,
samples the proxy's stats socket every interval into an NDJSON log, and at the end (--duration,
or SIGINT/SIGTERM) stops the clients, prints a verdict table and exits 1 if an invariant broke.
Every flag has an environment variable; a flag wins over its variable.

load                                                               (env, default)
  -d, --duration SECONDS  stop after this long; N, Ns, Nm or Nh     (SOAK_DURATION, none: until
                          stopped by SIGINT/SIGTERM)
  -m, --mode MODE         the proxy's pump: {m} (the modes `proxy -h` lists)
                                                                    (SOAK_MODE, rw)
  -w, --workers N         proxy worker threads                      (SOAK_WORKERS, online CPUs: {online_cpus()})
  -c, --connections N     ping-pong connections, open all along     (SOAK_CONNECTIONS, 32)
  -T, --client-threads N  threads of the ping-pong client           (SOAK_CLIENT_THREADS, 2)
  -l, --length BYTES      ping size (K/M suffixes)                  (SOAK_LENGTH, 1024)
      --rate MSGS_PER_S   pace the ping-pong client; 0 = flat out   (SOAK_RATE, 0)
      --stream N          also N stream connections (-n 0, echo)    (SOAK_STREAM, 0)
      --churn N           also a client that opens N connections, pings -n --churn-count on
                          each, closes them and starts again, all the time; 0 = off
                                                                    (SOAK_CHURN, 8)
      --churn-count N     pings per churn connection                (SOAK_CHURN_COUNT, 200)
      --server-workers N  tcp_ping_server worker threads            (SOAK_SERVER_WORKERS, 1)
      --proxy-args 'ARGS' more proxy flags, split on blanks         (SOAK_PROXY_ARGS, none)
      --nice N            run the server, proxy and clients at this niceness
                                                                    (SOAK_NICE, 0)
sampling and verdict
  -i, --interval SECONDS  sample period, also the proxy's --stats-interval
                                                                    (SOAK_INTERVAL, 5)
      --warmup SECONDS    samples before this are not used for the fd and RSS checks
                          (SOAK_WARMUP, max(2 intervals, duration/10) capped at 60; 60 without
                          a duration)
      --fd-tolerance N    after warm-up: max - min of (open_fds - 2 x connections_active)
                                                                    (SOAK_FD_TOLERANCE, 2)
      --rss-pct P         RSS growth allowed: median of the last quarter of the samples after
      --rss-mib M         warm-up over the first quarter's, at most P % or M MiB, whichever is
                          larger                                    (SOAK_RSS_PCT 10, SOAK_RSS_MIB 8)
where
      --bin DIR           directory with proxy, tcp_ping_server, tcp_ping_client
                          (SOAK_BIN, else <repo>/build/bin, else PATH)
      --log-dir DIR       samples.ndjson, client output, process logs, verdict.json
                          (SOAK_LOG_DIR, a new ${{TMPDIR:-/tmp}}/spliceproxy-soak.XXXXXX)
      --json-out FILE     also write the verdict JSON here         (SOAK_JSON_OUT, none)
      --listen ADDR       address the proxy and its stats socket listen on; the clients connect
                          to 127.0.0.1 when it is 0.0.0.0            (SOAK_LISTEN, 127.0.0.1)
      --server-port P     tcp_ping_server's port on 127.0.0.1       (SOAK_SERVER_PORT, auto)
      --proxy-port P      the proxy's port                          (SOAK_PROXY_PORT, auto)
      --stats-port P      the proxy's stats port                    (SOAK_STATS_PORT, auto)
                          auto: a port nobody uses, below the ephemeral range
client-only mode (a proxy and server run elsewhere, e.g. docker-compose.yml)
      --client-only       start only the clients; sample the stats of --stats over the network
                                                                    (SOAK_CLIENT_ONLY=1)
      --proxy HOST:PORT   the proxy to load                         (SOAK_PROXY, proxy:9998)
      --stats HOST:PORT   its stats socket                          (SOAK_STATS, HOST of --proxy:9997)
      --wait SECONDS      how long to wait for the stats socket to answer and a ping to come
                          back through the proxy                    (SOAK_WAIT, 60)
      --shared            other clients load the same proxy (replicas of a Swarm service):
                          its fds and sessions are not ours to judge (those checks SKIP)
                                                                    (SOAK_SHARED=1)
      --report DIR        only print the verdict of the run logged in DIR again (after
                          changing a tolerance in DIR/meta.json, say)
  -h, --help              this help

Exit status: 0 every invariant held, 1 one broke, 2 bad command line, 3 could not start."""


# flag -> (setting, its variable); short flags are aliases
OPTIONS = {
    "--duration": ("duration", "SOAK_DURATION"), "--mode": ("mode", "SOAK_MODE"),
    "--workers": ("workers", "SOAK_WORKERS"), "--connections": ("connections", "SOAK_CONNECTIONS"),
    "--client-threads": ("client_threads", "SOAK_CLIENT_THREADS"), "--length": ("length", "SOAK_LENGTH"),
    "--rate": ("rate", "SOAK_RATE"), "--stream": ("stream", "SOAK_STREAM"), "--churn": ("churn", "SOAK_CHURN"),
    "--churn-count": ("churn_count", "SOAK_CHURN_COUNT"),
    "--server-workers": ("server_workers", "SOAK_SERVER_WORKERS"),
    "--proxy-args": ("proxy_args", "SOAK_PROXY_ARGS"), "--nice": ("nice", "SOAK_NICE"),
    "--interval": ("interval", "SOAK_INTERVAL"), "--warmup": ("warmup", "SOAK_WARMUP"),
    "--fd-tolerance": ("fd_tolerance", "SOAK_FD_TOLERANCE"), "--rss-pct": ("rss_pct", "SOAK_RSS_PCT"),
    "--rss-mib": ("rss_mib", "SOAK_RSS_MIB"), "--bin": ("bin", "SOAK_BIN"), "--log-dir": ("log_dir", "SOAK_LOG_DIR"),
    "--json-out": ("json_out", "SOAK_JSON_OUT"), "--listen": ("listen", "SOAK_LISTEN"),
    "--server-port": ("server_port", "SOAK_SERVER_PORT"), "--proxy-port": ("proxy_port", "SOAK_PROXY_PORT"),
    "--stats-port": ("stats_port", "SOAK_STATS_PORT"), "--proxy": ("proxy", "SOAK_PROXY"),
    "--stats": ("stats", "SOAK_STATS"), "--wait": ("wait", "SOAK_WAIT"), "--report": ("report", None),
}
SHORT = {"-d": "--duration", "-m": "--mode", "-w": "--workers", "-c": "--connections", "-T": "--client-threads",
         "-l": "--length", "-i": "--interval"}
DEFAULTS = {"duration": "", "mode": "rw", "workers": "", "connections": "32", "client_threads": "2",
            "length": "1024", "rate": "0", "stream": "0", "churn": "8", "churn_count": "200",
            "server_workers": "1", "proxy_args": "", "nice": "0", "interval": "5", "warmup": "",
            "fd_tolerance": "2", "rss_pct": "10", "rss_mib": "8", "bin": "", "log_dir": "", "json_out": "",
            "listen": "127.0.0.1", "server_port": "auto", "proxy_port": "auto", "stats_port": "auto",
            "proxy": "", "stats": "", "wait": "60", "report": "", "client_only": "0", "shared": "0"}


def raw_settings(argv, env):
    """Strings as given: defaults, then the environment, then the flags. ('help' when -h.)"""
    raw = dict(DEFAULTS)
    for key, var in OPTIONS.values():
        if var and env.get(var, "") != "":
            raw[key] = env[var]
    for key, var in (("client_only", "SOAK_CLIENT_ONLY"), ("shared", "SOAK_SHARED")):
        if env.get(var, "") != "":
            raw[key] = env[var]
    args = list(argv)
    while args:
        opt = args.pop(0)
        if opt in ("-h", "--help"):
            return "help"
        if opt in ("--client-only", "--shared"):
            raw[opt[2:].replace("-", "_")] = "1"
            continue
        if opt.startswith("--") and "=" in opt:
            opt, value = opt.split("=", 1)
            args.insert(0, value)
        name = SHORT.get(opt, opt)
        if name not in OPTIONS:
            raise UsageError(f"unknown option '{opt}'")
        if not args:
            raise UsageError(f"option '{opt}' needs a value")
        raw[OPTIONS[name][0]] = args.pop(0)
    return raw


def is_uint(v):
    return re.fullmatch(r"[0-9]+", v) is not None and int(v) <= 1_000_000_000


def to_seconds(v):
    """N, Ns, Nm, Nh -> whole seconds, or None."""
    m = re.fullmatch(r"([0-9]+)([smh]?)", v)
    if not m:
        return None
    n = int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    return n if n <= 100_000_000 else None


def number(v):
    """A decimal as the verdict's JSON holds it: an int when whole."""
    return int(v) if "." not in v else float(v)


def check(raw, modes):
    """The settings, typed and checked, from raw_settings(); raises UsageError."""
    s = {}

    def uint(key, what, lo):
        v = raw[key]
        if not (is_uint(v) and int(v) >= lo):
            raise UsageError(f"bad {what} '{v}' (a whole number >= {lo})")
        s[key] = int(v)

    def port(key, what):
        v = raw[key]
        if v != "auto" and not (is_uint(v) and 1 <= int(v) <= 65535):
            raise UsageError(f"bad {what} '{v}' (1..65535 or auto)")
        s[key] = v if v == "auto" else int(v)

    for key, var in (("client_only", "SOAK_CLIENT_ONLY"), ("shared", "SOAK_SHARED")):
        if raw[key] not in ("0", "1", "true", "false", "yes", "no"):
            raise UsageError(f"bad {var} '{raw[key]}' (0 or 1)")
        s[key] = raw[key] in ("1", "true", "yes")
    if s["shared"] and not s["client_only"]:
        raise UsageError("--shared (SOAK_SHARED) needs --client-only (a proxy the runner starts is its own)")
    s["duration"] = None
    if raw["duration"] != "":
        d = to_seconds(raw["duration"])
        if d is None or d < 1:
            raise UsageError(f"bad duration '{raw['duration']}' (seconds >= 1: N, Ns, Nm, Nh)")
        s["duration"] = d
    if raw["mode"] not in modes:
        raise UsageError(f"bad mode '{raw['mode']}' ({', '.join(modes[:-1])} or {modes[-1]})")
    s["mode"] = raw["mode"]
    if raw["workers"] == "":
        raw = dict(raw, workers=str(online_cpus()))
    uint("workers", "workers", 1)
    uint("connections", "connections", 1)
    uint("client_threads", "client-threads", 1)
    if not re.fullmatch(r"[0-9]+[KkMm]?", raw["length"]) or re.fullmatch(r"0+[KkMm]?", raw["length"]):
        raise UsageError(f"bad length '{raw['length']}' (bytes >= 1, K/M suffixes)")
    s["length"] = raw["length"]
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", raw["rate"]):
        raise UsageError(f"bad rate '{raw['rate']}' (messages per second, 0 = flat out)")
    s["rate"] = raw["rate"]
    uint("stream", "stream", 0)
    uint("churn", "churn", 0)
    uint("churn_count", "churn-count", 1)
    uint("server_workers", "server-workers", 1)
    if not (re.fullmatch(r"-?[0-9]+", raw["nice"]) and -20 <= int(raw["nice"]) <= 19):
        raise UsageError(f"bad nice '{raw['nice']}' (-20..19)")
    s["nice"] = int(raw["nice"])
    s["interval"] = to_seconds(raw["interval"])
    if s["interval"] is None or s["interval"] < 1:
        raise UsageError(f"bad interval '{raw['interval']}' (seconds >= 1)")
    if raw["warmup"] != "":
        s["warmup"] = to_seconds(raw["warmup"])
        if s["warmup"] is None:
            raise UsageError(f"bad warmup '{raw['warmup']}' (seconds)")
    elif s["duration"] is not None:
        s["warmup"] = min(max(s["duration"] // 10, 2 * s["interval"]), 60)
    else:
        s["warmup"] = 60
    uint("fd_tolerance", "fd-tolerance", 0)
    for key, what, unit in (("rss_pct", "rss-pct", "a percentage"), ("rss_mib", "rss-mib", "MiB")):
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", raw[key]):
            raise UsageError(f"bad {what} '{raw[key]}' ({unit})")
        s[key] = number(raw[key])
    port("server_port", "server-port")
    port("proxy_port", "proxy-port")
    port("stats_port", "stats-port")
    s["wait"] = to_seconds(raw["wait"])
    if s["wait"] is None:
        raise UsageError(f"bad wait '{raw['wait']}' (seconds)")
    if not re.fullmatch(r"[0-9A-Za-z._-]+", raw["listen"]):
        raise UsageError(f"bad listen address '{raw['listen']}' (an IPv4 address or a host name)")
    s["listen"] = raw["listen"]
    s["proxy"], s["stats"] = raw["proxy"], raw["stats"]
    if s["client_only"]:
        s["proxy"] = s["proxy"] or "proxy:9998"
        m = re.fullmatch(r"(.+):([0-9]+)", s["proxy"])
        if not m:
            raise UsageError(f"bad proxy address '{s['proxy']}' (HOST:PORT)")
        s["stats"] = s["stats"] or f"{m.group(1)}:9997"
        if not re.fullmatch(r"(.+):([0-9]+)", s["stats"]):
            raise UsageError(f"bad stats address '{s['stats']}' (HOST:PORT)")
    for key in ("proxy_args", "bin", "log_dir", "json_out", "report"):
        s[key] = raw[key]
    return s
