"""spliceproxy's Python core, shared by the benchmark (bench/spbench) and the operator scripts
(scripts/sptools): what both read from /proc (procfs), the client of the proxy's stats socket
(stats), the manager of the processes a tool starts (children), local TCP ports (net) and the
proxy's pump modes (modes). Standard library only: the container image runs it with a bare python3.

Each package makes it importable in its own __init__ (python/ of the repository, or the folder the
image installs both packages in), so every entry point -- bench/run.sh, bench/tune, scripts/demo,
scripts/soak, pytest -- finds it without an install step."""
