"""lr-find's options, validated before any framework is imported."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from plateau_cli.errors import UsageError
from plateau_cli.strategies.choices import read_choice


class Pick(str, Enum):
    """Which point of the range-test curve becomes the new rate."""

    #: The rate at the smoothed loss's minimum, divided by 10 (fastai's classic advice: the
    #: minimum itself is already at the edge of divergence).
    MIN10 = "min10"
    #: The rate where the smoothed loss falls fastest against log(lr) (fastai's `steep`).
    STEEPEST = "steepest"


@dataclass(frozen=True)
class LrFindOptions:
    #: The range test's first and last rate; None: the restored rate / 1e3 and x 1e4.
    start_lr: float | None = None
    end_lr: float | None = None
    #: Mini-batches of the test (fastai uses 100).
    steps: int = 100
    pick: Pick = Pick.MIN10

    def __post_init__(self) -> None:
        for flag, value in (("--start-lr", self.start_lr), ("--end-lr", self.end_lr)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise UsageError(f"{flag} must be a positive number. Received: {value}")
        if (
            self.start_lr is not None
            and self.end_lr is not None
            and self.end_lr <= self.start_lr * 10
        ):
            raise UsageError(
                f"--end-lr {self.end_lr:g} must be at least 10x --start-lr"
                f" {self.start_lr:g}: the test needs a range to find a rate in"
            )
        if not 10 <= self.steps <= 1000:
            raise UsageError(f"--steps must be between 10 and 1000. Received: {self.steps}")

    @classmethod
    def from_given(cls, given: Mapping[str, Any]) -> LrFindOptions:
        values = dict(given)
        read_choice(values, "pick", Pick)
        return cls(**values)

    def bounds(self, restored: float | None) -> tuple[float, float]:
        """The test's range: the given bounds, else around the restored rate (1e-7..10 fastai's
        defaults when no rate is known)."""
        start = self.start_lr or (restored / 1e3 if restored else 1e-7)
        end = self.end_lr or (restored * 1e4 if restored else 10.0)
        if end <= start * 10:
            raise UsageError(
                f"the range test would run from {start:g} to {end:g}: give --end-lr above"
                f" {start * 10:g}"
            )
        return start, end
