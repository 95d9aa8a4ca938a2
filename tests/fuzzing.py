"""The fuzzing budget, one for every run: `python -m pytest` is exactly CI's run.

300 examples per fuzz test, derandomized (tests/conftest.py loads the profile): the same
examples on every run, so a landing never fails by chance and a failure reproduces. To explore
new examples: PLATEAU_FUZZ_EXPLORE=1 (random each run), and PLATEAU_FUZZ_EXAMPLES=N for more.
"""

from __future__ import annotations

import os

EXAMPLES = int(os.environ.get("PLATEAU_FUZZ_EXAMPLES", "300"))
EXPLORE = bool(os.environ.get("PLATEAU_FUZZ_EXPLORE"))
