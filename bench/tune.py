#!/usr/bin/env python3
"""spliceproxy tuner (bench/tune): the command line; the work is in spbench.tune. See docs/multi-nic.md."""

import sys

from spbench.tune import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
