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


@dataclass(frozen=True)
class NormalizeOptions:
    tolerance: float = DEFAULT_TOLERANCE

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise UsageError(f"--tolerance must be a positive number. Received: {self.tolerance}")

    @classmethod
    def from_given(cls, given: Mapping[str, Any]) -> NormalizeOptions:
        return cls(**dict(given))
