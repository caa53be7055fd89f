"""bench/tune's settings: one combination of mode, workers, pinning, accept path, balance and size
ceiling, the proxy flags it means, the plan that crosses them, and the lists of the command line."""

import re

from spcore.modes import MODES

from .. import paths as P
from ..util import BadArgs, fmt_size, parse_list, parse_size

# The modes the tuner tries (--modes): every mode of the proxy.
TUNE_MODES = MODES


def size_knobs(mode):
    """The proxy flags a size ceiling sets in a mode, from bench's path table (auto: every fixed
    mode's knob, since it moves bytes both ways)."""
    if mode == "auto":
        return [P.get(p).size_knob for p in P.FIXED_MODES]
    knob = P.get(f"proxy-{mode}").size_knob
    return [knob] if knob else []  # uring, sockmap: no size ceiling of their own


class Setting:
    def __init__(self, mode, workers, pinned, reuseport, balance, size=None):
        self.mode, self.workers, self.pinned, self.reuseport, self.balance = mode, workers, pinned, reuseport, balance
        self.size = size  # the size ceiling in bytes (--buffer-size / --pipe-size); None: the proxy's default

    @property
    def key(self):
        return (self.mode, self.workers, self.pinned, self.reuseport, self.balance, self.size)

    def size_name(self):
        return "default" if self.size is None else fmt_size(self.size)

    def name(self, balance_shown=False):
        s = f"{self.mode} w={self.workers} {'pinned' if self.pinned else 'unpinned'} " \
            f"{'reuseport' if self.reuseport else 'acceptor'}"
        return s + (f" {self.balance}" if balance_shown else "") + ("" if self.size is None else f" size={self.size_name()}")

    def series(self):  # a plot line: everything but the worker count
        return f"{self.mode} {'pinned' if self.pinned else 'unpinned'} {'reuseport' if self.reuseport else 'acceptor'}" \
               + ("" if self.balance == "round-robin" else f" {self.balance}") \
               + ("" if self.size is None else f" {self.size_name()}")

    def flags(self, cpus):
        f = ["--mode", self.mode, "-w", str(self.workers)]
        if self.size is not None:
            for knob in size_knobs(self.mode):
                f += [knob, fmt_size(self.size)]
        if self.pinned:
            f += ["--pin", ",".join(str(cpus[k % len(cpus)]) for k in range(self.workers))]
        if self.reuseport:
            f += ["--reuseport"]
        elif self.workers > 1 and self.balance != "round-robin":
            f += ["--balance", self.balance]
        return f

    def as_dict(self):
        return dict(mode=self.mode, workers=self.workers, pinned=self.pinned,
                    accept="reuseport" if self.reuseport else "acceptor", balance=self.balance,
                    size=self.size_name())


def plan(args):
    out = []
    for mode in args.modes:
        sizes = args.sizes if size_knobs(mode) else [None]  # a mode with no size knob: its default only
        for w in args.workers:
            for pinned in args.pin:
                for reuseport in args.accept:
                    for bal in (["round-robin"] if reuseport or w == 1 else args.balance):
                        for size in sizes:
                            out.append(Setting(mode, w, pinned, reuseport, bal, size))
    return out


def parse_cpus(s):
    out = []
    for part in s.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part.strip())
        if not m:
            raise BadArgs(f"bad --pin-cpus '{s}' (e.g. 0,1 or 0-3)")
        out += range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1)
    return out


def choice_list(s, valid, what):
    items = parse_list(s, valid, what)
    if not items:
        raise BadArgs(f"empty {what} (choose from {', '.join(valid)})")
    return items


def parse_sizes(s):
    """'default,64K,1M' -> [None, 65536, 1048576] (None: the proxy's own default)."""
    out = [None if x == "default" else parse_size(x) for x in parse_list(s, what="size")]
    if not out:
        raise BadArgs("--sizes is empty")
    return list(dict.fromkeys(out))
