"""rebalance's options, validated before any framework is imported."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from plateau_cli.errors import UsageError


class Smoothing(str, Enum):
    #: Weights 1 / frequency: every class counts alike.
    NONE = "none"
    #: Weights 1 / sqrt(frequency): halfway, for very rare classes whose copies would dominate.
    SQRT = "sqrt"


@dataclass(frozen=True)
class RebalanceOptions:
    smoothing: Smoothing = Smoothing.NONE

    @classmethod
    def from_given(cls, given: Mapping[str, Any]) -> RebalanceOptions:
        values = dict(given)
        if "smoothing" in values:
            try:
                values["smoothing"] = Smoothing(str(values["smoothing"]).strip().lower())
            except ValueError:
                valid = ", ".join(s.value for s in Smoothing)
                raise UsageError(
                    f"unknown --smoothing {values['smoothing']!r}; choose one of: {valid}"
                ) from None
        return cls(**values)
