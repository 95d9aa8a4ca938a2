"""lr-find: a short learning-rate range test from the checkpoint, then resume at the rate found.

lr-decay can only lower the rate. A run stalled because its rate is far too low (SGD at 1e-4)
needs it raised: continuing is slow, and lowering is worse (FINDINGS §6: lr x100 halved the
loss where lr-decay did nothing). Which way to go is what fastai's `lr_find` measures from
scratch; here the test starts from the saved weights and optimizer state: the rate grows
exponentially over `--steps` mini-batches, the smoothed loss is recorded, and the new rate is
a tenth of the rate at its minimum (`--pick min10`) or the steepest descent (`--pick steepest`).
The test's weights and optimizer state are thrown away (restored exactly) before training
resumes at the new rate, up or down. Where the loss falls too late and too steeply for the
smoothed curve to show it (a fall by an order of magnitude in the last few batches before the
test diverges), a running median of the batch losses reads the fall instead (curve.py).

Helps when the rate is far from where the loss falls fastest: slow convergence (too low), or a
bouncing plateau (too high). Does not help with dead units (revive), a bottleneck (widen), a
frozen base (unfreeze), or overfitting (augment, regularize).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from plateau_cli.adapters.base import ModelHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.strategies.base import Strategy, StrategyContext, StrategyOutcome
from plateau_cli.strategies.lr_find import curve
from plateau_cli.strategies.lr_find.options import LrFindOptions

#: Points of the curve kept in report.json (the test may run up to 1000 steps).
MAX_POINTS = 200


class LrFind(Strategy):
    name: ClassVar[str] = "lr-find"
    changes_parameter_set: ClassVar[bool] = False
    helps_when: ClassVar[str] = (
        "the learning rate is far too low (slow convergence) or too high (bouncing): a range"
        " test from the checkpoint finds the rate where the loss falls"
    )
    does_not_help_when: ClassVar[str] = (
        "the units are dead (revive), the model lacks capacity (widen), a frozen base holds it"
        " back (unfreeze), or it overfits (augment, regularize)"
    )
    option_names: ClassVar[frozenset[str]] = frozenset({"start_lr", "end_lr", "steps", "pick"})

    def __init__(self, options: LrFindOptions) -> None:
        super().__init__(options)
        self.options: LrFindOptions = options

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> LrFind:
        return cls(LrFindOptions.from_given(given))

    def apply(
        self, handle: ModelHandle, data: DataBundle, context: StrategyContext
    ) -> StrategyOutcome:
        old = handle.learning_rate()
        test = find_rate(handle, data, context, self.options)
        suggestion = test["suggestion"]
        if suggestion is None:
            raise StrategyNotApplicableError(
                f"the learning-rate range test ({test['start']:.3g} to {test['end']:.3g}) found"
                " no rate at which the training loss falls: the rate is not what holds this"
                " model back"
            )
        new = float(suggestion.lr)
        note = handle.set_learning_rate(new)
        direction = "up" if old and new > old else "down" if old and new < old else "set"
        ratio = f" (x{new / old:.3g})" if old else ""
        changes = [
            f"learning rate {old:g} -> {new:.3g}{ratio}, {direction}: {suggestion.why}"
            if old
            else f"learning rate {new:.3g}: {suggestion.why}",
            f"range test over {len(test['lrs'])} mini-batches from the checkpoint"
            f" ({test['start']:.3g} to {test['end']:.3g}); its weights and optimizer state were"
            " discarded",
        ]
        if note:
            changes.append(note)
        return StrategyOutcome(
            changes=tuple(changes),
            parameters={
                "lr": new,
                "previous_lr": old,
                "pick": self.options.pick.value,
                "start_lr": test["start"],
                "end_lr": test["end"],
                "steps": self.options.steps,
            },
            optimizer_state=handle.describe().optimizer.state,
            optimizer_detail="moments and step count continue (restored after the range test)",
            details={"range_test": _curve_json(test, old)},
        )


def find_rate(
    handle: ModelHandle, data: DataBundle, context: StrategyContext, options: LrFindOptions
) -> dict[str, Any]:
    """Run the range test and leave the model and optimizer exactly as they were.

    Returns the rates tried, raw and smoothed losses, and the suggestion (None: no rate in the
    range lowers the loss). auto calls this too, to compare the restored rate with the curve's.
    """
    if handle.framework == "keras":
        from plateau_cli.strategies.lr_find import keras as framework
    else:
        from plateau_cli.strategies.lr_find import torch as framework  # type: ignore[no-redef]
    start, end = options.bounds(handle.learning_rate())
    planned = curve.rates(start, end, options.steps)
    losses = framework.range_test(handle, data, context, planned)
    smoothed = curve.smooth(losses)
    lrs = planned[: len(losses)]
    # The last point may be the non-finite one that stopped the test: leave it out of the pick.
    finite = [i for i, v in enumerate(smoothed) if math.isfinite(v)]
    kept = finite[-1] + 1 if finite else 0
    return {
        "start": start,
        "end": end,
        "lrs": lrs,
        "losses": losses,
        "smoothed": smoothed,
        "suggestion": curve.suggest(lrs[:kept], smoothed[:kept], options.pick, losses[:kept]),
    }


def _curve_json(test: Mapping[str, Any], old: float | None) -> dict[str, Any]:
    stride = max(1, len(test["lrs"]) // MAX_POINTS)
    s = test["suggestion"]
    return {
        "lr": test["lrs"][::stride],
        "loss": test["losses"][::stride],
        "smoothed_loss": test["smoothed"][::stride],
        "restored_lr": old,
        "suggested_lr": s.lr if s else None,
        "min_loss_lr": s.min_lr if s else None,
    }


STRATEGY = LrFind
