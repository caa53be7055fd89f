"""Python tooling of spliceproxy that ships with the scripts: the demo (scripts/demo) and the soak
runner (scripts/soak, also the container image's entrypoint). Standard library only, so that the
runtime image needs nothing but python3."""

import os as _os
import sys as _sys

# The shared core (spcore): python/ of the repository, or beside this package where the image
# installs both (/usr/local/share/spliceproxy).
_here = _os.path.dirname(_os.path.abspath(__file__))
for _home in (_os.path.join(_os.path.dirname(_os.path.dirname(_here)), "python"), _os.path.dirname(_here)):
    if _os.path.isfile(_os.path.join(_home, "spcore", "__init__.py")):
        if _home not in _sys.path:
            _sys.path.insert(0, _home)
        break
