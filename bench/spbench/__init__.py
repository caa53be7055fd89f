"""spliceproxy's benchmark tooling: bench/run.sh (cli) and bench/tune (tune) are its command lines.
It stands on the core it shares with the scripts, python/spcore (/proc, the stats-socket client, the
child processes, the modes), which this makes importable."""

import os as _os
import sys as _sys

_core = _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))), "python")
if _core not in _sys.path:
    _sys.path.insert(0, _core)
