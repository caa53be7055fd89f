"""

Modules: settings (what a setting is, the plan), measure (processes, stats socket, CPU, one run's
figures), env (namespaces or loopback, the echo server, one run), report (aggregates, the
recommendation, table and plot), cli (the command line and the main loop).
"""

from .cli import main  # noqa: F401
from .report import aggregate, recommend  # noqa: F401
from .settings import Setting, parse_sizes, plan, size_knobs  # noqa: F401
