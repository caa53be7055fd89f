"""Makes spcore importable whether pytest runs from python/ or from the repository root."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
