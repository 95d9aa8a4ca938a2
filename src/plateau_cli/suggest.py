"""'did you mean ...?' for a mistyped name (a strategy, a metric): the closest known spelling."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`did you mean 'lr-decay'? ` for a near miss (difflib's ratio >= 0.6), else ``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""
