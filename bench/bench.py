#!/usr/bin/env python3
"""spliceproxy benchmark (bench/run.sh): the command line; the work is in the spbench package.
See bench/README.md."""

import sys

from spbench.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
