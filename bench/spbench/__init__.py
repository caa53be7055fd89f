"""spliceproxy's benchmark tooling: bench/run.sh (cli) and bench/tune (tune) are its command lines."""
