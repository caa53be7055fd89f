"""What sits between the load client and the backend: one table entry per path.

A new data path of ours (e.g. `--mode uring`) is one entry in BASE. Any path with a size knob can
be run at a swept size ceiling by name: `proxy-rw@16K` is proxy-rw with `--buffer-size 16K`,
`haproxy-splice@256K` is haproxy-splice with `tune.pipesize 262144`.
"""

import resource
from dataclasses import dataclass, replace

from .util import BadArgs, fmt_size, parse_size


@dataclass(frozen=True)
class Path:
    name: str
    kind: str                  # "direct", "ours" or "haproxy"
    desc: str
    color: str
    mode: str = None           # ours: the --mode value
    flags: tuple = ()          # ours: extra proxy flags
    haproxy_global: tuple = () # haproxy: extra lines of the global section
    splice: bool = False       # haproxy: option splice-request/-response
    peer: str = None           # HAProxy in the same mode: the ×HAProxy columns and the goals
    rw_of: str = None          # the read/write path of the same proxy: the splice/rw columns
    size_knob: str = None      # "--buffer-size" / "--pipe-size" (ours) or "tune.bufsize" / "tune.pipesize"
    opt_in: bool = False       # not in the default --paths
    base: str = None           # for a sized variant: the path it varies
    size: int = None           # for a sized variant: the ceiling in bytes


BASE = [
    Path("direct", "direct", "client → backend, nothing between", "#888888"),
    Path("proxy-rw", "ours", "our proxy --mode rw (read/write through a user buffer)", "#1f77b4",
         mode="rw", peer="haproxy", size_knob="--buffer-size"),
    Path("proxy-splice", "ours", "our proxy --mode splice (socket → pipe → socket)", "#2ca02c",
         mode="splice", peer="haproxy-splice", rw_of="proxy-rw", size_knob="--pipe-size"),
    Path("proxy-auto", "ours", "our proxy --mode auto (read/write for small messages; on bulk, read/write or "
         "splice, whichever it timed faster)", "#9467bd", mode="auto", peer="haproxy-splice", rw_of="proxy-rw"),
    Path("proxy-uring", "ours", "our proxy --mode uring (io_uring: provided buffers, one io_uring_enter per "
         "loop iteration)", "#e377c2", mode="uring", peer="haproxy", rw_of="proxy-rw"),
    Path("proxy-sockmap", "ours", "our proxy --mode sockmap (a BPF sk_skb program redirects every segment "
         "inside the kernel; the proxy only watches the ends of the streams)", "#bcbd22", mode="sockmap",
         peer="haproxy-splice", rw_of="proxy-rw"),
    Path("haproxy", "haproxy", "HAProxy in TCP mode, no splice", "#ff7f0e", size_knob="tune.bufsize"),
    Path("haproxy-splice", "haproxy", "HAProxy with option splice-request + splice-response", "#d62728",
         splice=True, rw_of="haproxy", size_knob="tune.pipesize"),
    Path("proxy-rw-busy", "ours", "our proxy --mode rw --busy-poll USEC", "#17becf", mode="rw",
         flags=("--busy-poll", "{busy_poll}"), peer="haproxy-busy", opt_in=True),
    Path("haproxy-busy", "haproxy", "HAProxy with busy-polling in global", "#8c564b",
         haproxy_global=("busy-polling",), opt_in=True),
    Path("proxy-uring-coalesce", "ours", "our proxy --mode uring --uring-coalesce 100 (a wait lasts 100 us so "
         "completions share a wake-up: less CPU per message at a fixed load, more latency)", "#7f7f7f",
         mode="uring", flags=("--uring-coalesce", "100"), peer="haproxy", rw_of="proxy-rw", opt_in=True),
]
BY_NAME = {p.name: p for p in BASE}
NAMES = [p.name for p in BASE]
DEFAULT = [p.name for p in BASE if not p.opt_in]
OPT_IN = [p.name for p in BASE if p.opt_in]
FIXED_MODES = ("proxy-rw", "proxy-splice")  # ours with one way of moving bytes; auto chooses between them
SIZABLE = [p.name for p in BASE if p.size_knob]


def sized(name, size):
    return f"{name}@{fmt_size(size)}"


def get(name):
    """The Path for a name, sized variants ("proxy-rw@16K") included; BadArgs if unknown."""
    base, _, size = name.partition("@")
    p = BY_NAME.get(base)
    if p is None:
        raise BadArgs(f"unknown path: {name} (known: {', '.join(NAMES)}, and NAME@SIZE for {', '.join(SIZABLE)})")
    if not size:
        return p
    if not p.size_knob:
        raise BadArgs(f"path {base} has no size knob (sizable: {', '.join(SIZABLE)})")
    n = parse_size(size)
    peer = sized(p.peer, n) if p.peer and BY_NAME[p.peer].size_knob else None
    rw_of = sized(p.rw_of, n) if p.rw_of and BY_NAME[p.rw_of].size_knob else None
    return replace(p, name=sized(base, n), base=base, size=n, peer=peer, rw_of=rw_of)


def known(name):
    try:
        get(name)
        return True
    except BadArgs:
        return False


def base_of(name):
    return name.partition("@")[0]


def sort_key(name):
    """Table order, each size variant right after the path it varies, smallest first."""
    p = get(name)
    return (NAMES.index(base_of(name)), 0 if p.size is None else 1, p.size or 0)


def is_ours(name):
    return get(name).kind == "ours"


def is_haproxy(name):
    return get(name).kind == "haproxy"


def color(name):
    return get(name).color


def proxy_flags(name, busy_poll=50):
    """Our proxy's flags for a path: mode, the path's own flags, the size knob of a sized variant."""
    p = get(name)
    f = ["--mode", p.mode] + [x.format(busy_poll=busy_poll) for x in p.flags]
    if p.size is not None:
        f += [p.size_knob, str(p.size)]
    return f


def haproxy_maxconn():
    """High, but within the fd limit HAProxy can get (it needs ~2 fds per connection, 4 with splice
    pipes, and refuses to start when RLIMIT_NOFILE is too low for maxconn)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = hard if hard != resource.RLIM_INFINITY else 1 << 20
    return int(max(256, min(20000, (limit - 200) // 5)))


def haproxy_config(name, workers, listen, port, backend, bport, pin):
    p = get(name)
    maxconn = haproxy_maxconn()
    lines = [
        "# written by bench/run.sh",
        "global",
        f"    nbthread {workers}",
        f"    maxconn {maxconn}",
    ]
    lines += [f"    {x}" for x in p.haproxy_global]
    if p.size is not None:
        lines.append(f"    {p.size_knob} {p.size}")
    if pin:
        lines.append(f"    cpu-map auto:1/1-{workers} {pin}")
    lines += [
        "defaults",
        "    mode tcp",
        "    timeout connect 10s",
        "    timeout client 300s",
        "    timeout server 300s",
        f"    maxconn {maxconn}",
    ]
    if p.splice:
        lines += ["    option splice-request", "    option splice-response"]
    lines += [
        "frontend fe",
        f"    bind {listen}:{port}",
        "    default_backend be",
        "backend be",
        f"    server s1 {backend}:{bport}",
        "",
    ]
    return "\n".join(lines)
