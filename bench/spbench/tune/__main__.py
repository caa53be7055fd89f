"""python3 -m spbench.tune (bench/tune): the tuner's command line. See docs/multi-nic.md."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
