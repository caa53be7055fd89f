"""Python tooling of spliceproxy that ships with the scripts: the demo (scripts/demo) and the soak
runner (scripts/soak, also the container image's entrypoint). Standard library only, so that the
runtime image needs nothing but python3."""
