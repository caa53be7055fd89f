"""tcp_ping_client's --json output: interval lines, then one "type":"summary" line."""

import json


def summary_of(path):
    """The last `"type":"summary"` line of a client's output, or None (none, unreadable, not JSON)."""
    found = None
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if '"type":"summary"' in line:
                    try:
                        found = json.loads(line)
                    except ValueError:
                        found = None
    except OSError:
        return None
    return found
