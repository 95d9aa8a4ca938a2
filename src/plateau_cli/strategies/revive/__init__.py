"""revive: dead ReLU units get new random incoming and zero outgoing weights, then resume.

A ReLU unit whose pre-activation is below 0 on every training sample gets no gradient: no
learning rate brings it back (FINDINGS §2: lr x0.1 to x0.001 all stayed at the plateau). Its
outgoing weights contribute nothing, so setting them to zero and drawing new He-random incoming
weights (bias 0) keeps the outputs on the training data exactly, like widen's zero-out init;
the outgoing weights get a gradient at once. The optimizer state of the touched layers starts
again (torch: those parameters restart at step 0, as widen measured necessary; Keras: their
moments are zeroed) so stale moments do not push the new weights.

Helps when a large share of a layer's units are dead (after a too-high rate or a bad init).
Does not help when the units are alive (widen adds capacity; lr-find fixes the rate).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from plateau_cli.adapters.base import ModelHandle, OptimizerState
from plateau_cli.data.base import DataBundle
from plateau_cli.strategies.base import Strategy, StrategyContext, StrategyOutcome
from plateau_cli.strategies.revive.options import ReviveOptions


@dataclass(frozen=True)
class Revived:
    layer: str
    units: int
    dead: int
    consumer: str


class Revive(Strategy):
    name: ClassVar[str] = "revive"
    changes_parameter_set: ClassVar[bool] = False
    helps_when: ClassVar[str] = (
        "many ReLU units are dead (output 0 on every training sample): no learning rate"
        " revives them"
    )
    does_not_help_when: ClassVar[str] = (
        "the units are alive: the model lacks capacity (widen) or its rate is wrong (lr-find)"
    )
    option_names: ClassVar[frozenset[str]] = frozenset({"layer", "init_scale"})

    def __init__(self, options: ReviveOptions) -> None:
        super().__init__(options)
        self.options: ReviveOptions = options

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> Revive:
        return cls(ReviveOptions.from_given(given))

    def apply(
        self, handle: ModelHandle, data: DataBundle, context: StrategyContext
    ) -> StrategyOutcome:
        if handle.framework == "keras":
            from plateau_cli.strategies.revive import keras as surgery
        else:
            from plateau_cli.strategies.revive import torch as surgery  # type: ignore[no-redef]
        revived, change, reset = surgery.apply(handle, data, context, self.options)  # type: ignore[arg-type]
        changes = [
            f"revived {r.dead} of {r.units} dead units of {r.layer}: new random (He) incoming"
            f" weights, zero outgoing weights in {r.consumer}"
            for r in revived
        ]
        changes.append(f"max |output change| on validation samples: {change:.3g}")
        if reset:
            changes.append(f"optimizer state restarted for {', '.join(reset)}")
        return StrategyOutcome(
            changes=tuple(changes),
            parameters={"layer": self.options.layer, "init_scale": self.options.init_scale},
            optimizer_state=OptimizerState.PARTIAL if reset else handle.describe().optimizer.state,
            optimizer_detail="moments of the revived layers restarted; the others continue",
            details={
                "revived": [r.__dict__ for r in revived],
                "max_abs_output_change": change,
            },
        )


STRATEGY = Revive
