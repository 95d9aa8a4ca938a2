"""normalize: standardise what the first layer sees, keeping the function, then resume.

Inputs at a scale of ~1e3 make the first layer's gradients huge in some directions and tiny in
others; training crawls (FINDINGS §6: val_loss 0.58, 0.27 after standardising and restarting).
normalize puts a fixed standardisation in front of the model (a Keras `Normalization` layer; a
torch forward pre-hook) with the training data's mean and std, and folds its inverse into the
first Dense/Conv layer (W' = W * std, b' = b + W mean), so the outputs are unchanged (the report
gives the max |output change|).

The fold alone did not escape (the zoo's unnormalised plateaus, SGD at 1e-6: 44.4 against 34.7
continuing): it keeps the hidden activations at the raw scale and divides the first layer's
effective rate by the features' variance, so no single rate suits both layers. So the ReLU layers
from the first on are also rescaled to unit spread, each inverse moved into the next layer
(balance.py: relu(z / c) * c = relu(z), the function kept), and, since the restored rate was
tuned to the raw scale, a range test from the normalized model (lr-find's, its weights thrown
away; around the restored rate first, fastai's 1e-7..10 where that finds nothing) sets the
rate (`--normalize-rate keep` keeps the restored one; `--lr` wins). The changed layers'
optimizer moments restart (they were in the old scale). Measured figures: benchmarks/zoo/README.md.

The written model takes the user's raw inputs: Keras keeps the Normalization layer inside the
saved model; torch writes the first layer's weights unfolded back to the raw scale, so the
user's own module loads them as before (the rescaled units are its own weights).
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

#: The range test's bounds when the one around the restored rate finds nothing (fastai's).
#: Measured on the zoo's tune half (unnormalised, 3 epochs, seeds 0-2): the range around the
#: restored rate alone gave 0.97 on the MLP and found no rate on the CNN; fastai's range alone
#: gave 2.1 +- 1.8 on the MLP and 2.35 on the CNN; this order takes the better of each. Since
#: the range test's running-median fallback (lr_find/curve.py,
#: benchmarks/zoo/range_test_rules.md) the range
#: around the restored rate finds one on the CNN too: 2.57, 2.60, 2.49 (seeds 0-2); before,
#: it found none there and fastai's range none on seed 1 (2.35, 42.2, 2.49: no escape).
START_LR, END_LR = 1e-7, 10.0


class Normalize(Strategy):
    name: ClassVar[str] = "normalize"
    changes_parameter_set: ClassVar[bool] = False
    helps_when: ClassVar[str] = (
        "the inputs are far from unit scale (features ~1e3, raw pixels) and training crawls"
    )
    does_not_help_when: ClassVar[str] = (
        "the inputs are already standardised, or the first layer does not see them directly"
    )
    option_names: ClassVar[frozenset[str]] = frozenset({"tolerance", "normalize_rate"})

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
        changes = [
            f"inputs standardised in front of the model ({done['where']}; mean"
            f" {done['mean_range']}, std {done['std_range']} from the training data)",
            f"the inverse folded into {done['layer']}: max |output change|"
            f" {done['max_abs_output_change']:.3g}",
        ]
        if "inverse_in" in done:
            layers = done.get("layers_rescaled", 1)
            changes.append(
                f"{done['units_rescaled']} ReLU units in {layers} layer(s) from {done['layer']}"
                f" on rescaled to unit spread ({done['layer']}'s by 1/{done['unit_scale_range']}),"
                f" each inverse in the next layer ({done['inverse_in']}): function kept"
            )
        restarted = done["layer"] + (f" and {done['inverse_in']}" if "inverse_in" in done else "")
        changes.append(f"optimizer state of {restarted} restarted (it was in the raw scale)")
        parameters: dict[str, Any] = {
            "tolerance": self.options.tolerance,
            "balance": self.options.balance,
            "normalize_rate": self.options.normalize_rate,
        }
        details = dict(done)
        if self.options.normalize_rate == "find" and context.lr_override is None:
            changes += self._find_rate(handle, data, context, parameters, details)
        return StrategyOutcome(
            changes=tuple(changes),
            parameters=parameters,
            optimizer_state=OptimizerState.PARTIAL,
            optimizer_detail=f"moments of {restarted} restarted; the others continue",
            details=details,
        )

    @staticmethod
    def _find_rate(
        handle: ModelHandle,
        data: DataBundle,
        context: StrategyContext,
        parameters: dict[str, Any],
        details: dict[str, Any],
    ) -> list[str]:
        """The restored rate suited the raw scale; a range test from the normalized model
        (lr-find's, its weights thrown away) sets the rate for the new one."""
        from plateau_cli.strategies.lr_find import find_rate
        from plateau_cli.strategies.lr_find.options import LrFindOptions

        old = handle.learning_rate()
        # First lr-find's own range around the restored rate; where that finds nothing (the
        # rate was tuned to the raw scale, far from the new one), fastai's whole range.
        test = find_rate(handle, data, context, LrFindOptions())
        if test["suggestion"] is None:
            test = find_rate(handle, data, context, LrFindOptions(start_lr=START_LR, end_lr=END_LR))
        suggestion = test["suggestion"]
        if suggestion is None:
            return [
                f"range test from the normalized model ({test['start']:.3g} to"
                f" {test['end']:.3g}): no rate lowered the loss; the restored rate stays"
            ]
        new = float(suggestion.lr)
        note = handle.set_learning_rate(new)
        parameters["lr"], parameters["previous_lr"] = new, old
        details["suggested_lr"] = new
        return [
            f"learning rate {old:g} -> {new:.3g}: a range test from the normalized model"
            f" ({test['start']:.3g} to {test['end']:.3g}): {suggestion.why}",
            *([note] if note else []),
        ]


STRATEGY = Normalize
