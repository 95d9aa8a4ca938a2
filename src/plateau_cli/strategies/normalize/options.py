"""normalize's options, validated before any framework is imported."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plateau_cli.errors import UsageError

#: The fold must keep the outputs: a change beyond this share of their spread means the first
#: layer does not see the raw inputs directly (a Rescaling before it, padding), and is refused.
DEFAULT_TOLERANCE = 1e-3
RATES = ("find", "keep")


@dataclass(frozen=True)
class NormalizeOptions:
    tolerance: float = DEFAULT_TOLERANCE
    #: Rescale the first layer's ReLU units to unit spread (the inverse in the next layer).
    balance: bool = True
    #: "find": a range test from the normalized model sets the rate (the restored one was
    #: tuned to the raw scale); "keep": the restored rate.
    normalize_rate: str = "find"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise UsageError(f"--tolerance must be a positive number. Received: {self.tolerance}")
        if self.normalize_rate not in RATES:
            raise UsageError(
                f"unknown --normalize-rate {self.normalize_rate!r}; choose one of:"
                f" {', '.join(RATES)}"
            )

    @classmethod
    def from_given(cls, given: Mapping[str, Any]) -> NormalizeOptions:
        values = dict(given)
        if "normalize_rate" in values:
            values["normalize_rate"] = str(values["normalize_rate"]).strip().lower()
        return cls(**values)
