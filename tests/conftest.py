"""Test-session set-up shared by every test.

torch is imported before anything can import TensorFlow: in one process the other order can
crash the interpreter on import (DEVELOPERS.md). It costs ~2 s once per session.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("NO_COLOR", "1")

# Hypothesis runs are derandomized by default, here as in CI (the same examples on every run, so
# a landing cannot fail by chance); PLATEAU_FUZZ_EXPLORE=1 draws new examples (tests/fuzzing.py).
if not os.environ.get("PLATEAU_FUZZ_EXPLORE"):
    from hypothesis import settings

    settings.register_profile("derandomized", derandomize=True)
    settings.load_profile("derandomized")

try:  # noqa: SIM105 - the import is the point
    import torch  # noqa: F401
except ImportError:  # a checkout without the torch extra still runs the other tests
    pass
