"""python3 -m spbench (bench/run.sh): the benchmark's command line. See bench/README.md."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
