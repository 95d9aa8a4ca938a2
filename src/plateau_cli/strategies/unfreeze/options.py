"""unfreeze's options, validated before any framework is imported."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from plateau_cli.errors import UsageError

#: The newly unfrozen layers' rate relative to the head's. On the sample `unfreeze` models
#: (Keras and torch, seeds 0-2, 10 epochs) 0.3 beat 0.1 clearly in both frameworks; the table
#: is in the docstring of plateau_cli.strategies.unfreeze.
DEFAULT_BASE_LR_MULT = 0.3

ALL = "all"


@dataclass(frozen=True)
class UnfreezeOptions:
    #: How many frozen blocks to unfreeze from the top; None: the default (see `blocks`).
    layers: int | Literal["all"] | None = None
    gradual: bool = False
    base_lr_mult: float = DEFAULT_BASE_LR_MULT
    train_bn: bool = False

    def __post_init__(self) -> None:
        if self.layers is not None and self.layers != ALL:
            if isinstance(self.layers, bool) or not isinstance(self.layers, int):
                raise UsageError(
                    f"--layers must be a positive number or 'all'. Received: {self.layers!r}"
                )
            if self.layers < 1:
                raise UsageError(
                    "--layers must be at least 1 (or 'all'): the number of frozen blocks to"
                    f" unfreeze from the top. Received: layers={self.layers}"
                )
        mult = self.base_lr_mult
        if not (math.isfinite(mult) and 0.0 < mult <= 1.0):
            raise UsageError(
                "--base-lr-mult must be above 0 and at most 1: the unfrozen layers train at this"
                " fraction of the head's learning rate (discriminative fine-tuning keeps"
                f" pretrained layers slower). Received: base_lr_mult={mult}"
            )

    @classmethod
    def from_given(cls, given: Mapping[str, Any]) -> UnfreezeOptions:
        values = dict(given)
        if "layers" in values:
            values["layers"] = parse_layers(values["layers"])
        for flag in ("gradual", "train_bn"):
            if flag in values:
                values[flag] = bool(values[flag])
        if "base_lr_mult" in values:
            values["base_lr_mult"] = float(values["base_lr_mult"])
        return cls(**values)


def parse_layers(value: Any) -> int | Literal["all"]:
    """`--layers` arrives as text from the CLI: a whole number or 'all'."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text == ALL:
        return ALL
    try:
        return int(text)
    except ValueError:
        raise UsageError(
            f"--layers must be a positive number or 'all'. Received: {value!r}"
        ) from None
