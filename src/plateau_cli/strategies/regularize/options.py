"""regularize's options, validated before any framework is imported."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plateau_cli.errors import UsageError

#: Decoupled weight decay (Keras optimizers, torch AdamW: w -= lr * wd * w each step).
DECOUPLED_DECAY = 0.05
#: L2 added to the gradient (torch SGD/Adam's `weight_decay`).
L2_DECAY = 5e-4
#: Dropout layers are raised to at least this rate.
DEFAULT_DROPOUT = 0.5


@dataclass(frozen=True)
class RegularizeOptions:
    weight_decay: float | None = None
    dropout: float = DEFAULT_DROPOUT
    #: Start from the log's best epoch's checkpoint when one sits beside the model.
    rollback: bool = True

    def __post_init__(self) -> None:
        if self.weight_decay is not None and not (
            math.isfinite(self.weight_decay) and 0 <= self.weight_decay < 1
        ):
            raise UsageError(
                f"--weight-decay must be in [0, 1). Received: weight_decay={self.weight_decay}"
            )
        if not (0 <= self.dropout < 1):
            raise UsageError(f"--dropout must be in [0, 1). Received: dropout={self.dropout}")

    @classmethod
    def from_given(cls, given: Mapping[str, Any]) -> RegularizeOptions:
        return cls(**dict(given))
