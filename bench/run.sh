#!/usr/bin/env bash
# One command for the whole benchmark: see bench/README.md.  bench/run.sh --quick is the smoke test.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v python3 >/dev/null 2>&1; then
  echo "run.sh: installing python3" >&2
  apt-get update >/dev/null && apt-get install -y --no-install-recommends python3
fi
# One hop: the package is the program (bench/spbench/__main__.py).
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m spbench "$@"
