""" "Did the monitored metric improve?", answered in exactly one place.

The plateau detector, early stopping, the lr `plateau` schedule and the report's `improved` flag
all use `Monitor`, so they can never disagree. The semantics are those of Keras'
`EarlyStopping`/`ReduceLROnPlateau`: in `min` mode a value improves on a reference when it is
lower by more than `min_delta`; in `max` mode when it is higher by more than `min_delta`. Users
can therefore reuse the `--min-delta` and `--patience` they already pass to those callbacks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from plateau_cli.errors import UsageError
from plateau_cli.names import higher_is_better


class Mode(str, Enum):
    MIN = "min"
    MAX = "max"

    @classmethod
    def for_metric(cls, name: str) -> Mode:
        return cls.MAX if higher_is_better(name) else cls.MIN


@dataclass(frozen=True)
class Monitor:
    """A metric, its direction and the smallest change that counts as an improvement."""

    metric: str
    mode: Mode
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.min_delta) or self.min_delta < 0:
            raise UsageError(
                f"--min-delta must be a finite number >= 0. Received: min_delta={self.min_delta}"
            )

    @classmethod
    def for_metric(cls, metric: str, min_delta: float = 0.0, mode: Mode | None = None) -> Monitor:
        return cls(metric, mode or Mode.for_metric(metric), min_delta)

    def is_improvement(self, current: float, reference: float | None) -> bool:
        """True when `current` beats `reference` by more than `min_delta`.

        A non-finite current value never improves; anything finite improves on a missing or
        non-finite reference.
        """
        if not math.isfinite(current):
            return False
        if reference is None or not math.isfinite(reference):
            return True
        if self.mode is Mode.MIN:
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def better(self, a: float, b: float) -> bool:
        """Strict comparison without `min_delta` (for picking the best of equals)."""
        if not math.isfinite(a):
            return False
        if not math.isfinite(b):
            return True
        return a < b if self.mode is Mode.MIN else a > b

    def best_index(self, values: Sequence[float]) -> int | None:
        """Index of the best finite value (first one on ties), or None when none is finite."""
        best: int | None = None
        for i, v in enumerate(values):
            if best is None or self.better(v, values[best]):
                best = i if math.isfinite(v) else best
        return best

    def improvement_indices(self, values: Sequence[float]) -> list[int]:
        """Indices where the value improved on the best so far, as Keras callbacks track it.

        The reference is the best value seen, so a slow drift that never beats it by more than
        `min_delta` counts as no improvement (exactly like `EarlyStopping`'s wait counter).
        """
        out: list[int] = []
        reference: float | None = None
        for i, v in enumerate(values):
            if self.is_improvement(v, reference):
                out.append(i)
                reference = v
        return out

    def wait_after(self, values: Sequence[float]) -> int:
        """Epochs since the last improvement: Keras' `wait` counter at the end of `values`."""
        last = self.improvement_indices(values)
        return len(values) if not last else len(values) - 1 - last[-1]
