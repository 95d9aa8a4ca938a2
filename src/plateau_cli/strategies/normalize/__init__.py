"""normalize: standardise what the first layer sees, keeping the function, then resume.

Inputs at a scale of ~1e3 make the first layer's gradients huge in some directions and tiny in
others; training crawls (FINDINGS §6: val_loss 0.58, 0.27 after standardising and restarting).
normalize puts a fixed standardisation in front of the model (a Keras `Normalization` layer; a
torch forward pre-hook) with the training data's mean and std, and folds its inverse into the
first Dense/Conv layer (W' = W * std, b' = b + W mean), so the outputs are unchanged (the report
gives the max |output change|) while training continues on better-conditioned weights. That
layer's optimizer moments restart (they were in the old scale).

The written model takes the user's raw inputs: Keras keeps the Normalization layer inside the
saved model; torch writes the first layer's weights unfolded back to the raw scale, so the
user's own module loads them as before.

Measured (FINDINGS §6): folding recovers part of what a restart does (0.42-0.57 vs 0.58
continuing); units that died under the raw scale stay dead (revive them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from plateau_cli.adapters.base import ModelHandle, OptimizerState
from plateau_cli.data.base import DataBundle
from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.strategies.base import (
    Strategy,
    StrategyContext,
    StrategyOutcome,
    refuse_named_io,
)
from plateau_cli.strategies.normalize.options import NormalizeOptions


class Normalize(Strategy):
    name: ClassVar[str] = "normalize"
    changes_parameter_set: ClassVar[bool] = False
    helps_when: ClassVar[str] = (
        "the inputs are far from unit scale (features ~1e3, raw pixels) and training crawls"
    )
    does_not_help_when: ClassVar[str] = (
        "the inputs are already standardised, or the first layer does not see them directly"
    )
    option_names: ClassVar[frozenset[str]] = frozenset({"tolerance"})

    def __init__(self, options: NormalizeOptions) -> None:
        super().__init__(options)
        self.options: NormalizeOptions = options

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> Normalize:
        return cls(NormalizeOptions.from_given(given))

    def apply(
        self, handle: ModelHandle, data: DataBundle, context: StrategyContext
    ) -> StrategyOutcome:
        refuse_named_io(self.name, handle, data, "folds one input's scaling into the first layer")
        if handle.io_spec().string_inputs:
            raise StrategyNotApplicableError(
                "normalize standardises numeric inputs, and this model takes strings (text into"
                " TextVectorization or StringLookup): there is no scale to fix"
            )
        if handle.framework == "keras":
            from plateau_cli.strategies.normalize import keras as surgery
        else:
            from plateau_cli.strategies.normalize import torch as surgery  # type: ignore[no-redef]
        done = surgery.apply(handle, data, context, self.options)  # type: ignore[arg-type]
        return StrategyOutcome(
            changes=(
                f"inputs standardised in front of the model ({done['where']}; mean"
                f" {done['mean_range']}, std {done['std_range']} from the training data)",
                f"the inverse folded into {done['layer']}: max |output change|"
                f" {done['max_abs_output_change']:.3g}",
                f"optimizer state of {done['layer']} restarted (it was in the raw scale)",
            ),
            parameters={"tolerance": self.options.tolerance},
            optimizer_state=OptimizerState.PARTIAL,
            optimizer_detail=f"moments of {done['layer']} restarted; the others continue",
            details=done,
        )


STRATEGY = Normalize
