"""regularize: raise weight decay, and dropout where the model has dropout, then resume.

For the overfitting that augmentation does not fix (FINDINGS §6: a 100-image CNN got worse
under augment, 1.30 -> 1.38, while its own best epoch had 1.02). Weight decay is decoupled
where the optimizer supports it (Keras optimizers, torch AdamW: `--weight-decay`, default
0.05) and an L2 term otherwise (torch SGD/Adam, default 5e-4); existing Dropout layers are
raised to at least `--dropout` (0.5). No layer is added: the architecture stays the user's.

Rolling back to the best epoch of the earlier run needs that epoch's weights, which a single
checkpoint does not hold; resume restores its own best epoch at the end, as always.

Helps when training loss is far below validation and augmentation has not helped. Does not
help when the model underfits (widen, lr-find).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from plateau_cli.adapters.base import ModelHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.strategies.base import Strategy, StrategyContext, StrategyOutcome
from plateau_cli.strategies.regularize.options import RegularizeOptions


class Regularize(Strategy):
    name: ClassVar[str] = "regularize"
    changes_parameter_set: ClassVar[bool] = False
    helps_when: ClassVar[str] = (
        "the model overfits (training loss far below validation) and augmentation did not help"
    )
    does_not_help_when: ClassVar[str] = "the model underfits: it lacks capacity or rate"
    option_names: ClassVar[frozenset[str]] = frozenset({"weight_decay", "dropout"})

    def __init__(self, options: RegularizeOptions) -> None:
        super().__init__(options)
        self.options: RegularizeOptions = options

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> Regularize:
        return cls(RegularizeOptions.from_given(given))

    def apply(
        self, handle: ModelHandle, data: DataBundle, context: StrategyContext
    ) -> StrategyOutcome:
        if handle.framework == "keras":
            from plateau_cli.strategies.regularize import keras as surgery
        else:
            from plateau_cli.strategies.regularize import torch as surgery  # type: ignore[no-redef]
        changes, parameters = surgery.apply(handle, self.options)  # type: ignore[arg-type]
        return StrategyOutcome(
            changes=tuple(changes),
            parameters=parameters,
            optimizer_state=handle.describe().optimizer.state,
            optimizer_detail="moments and step count continue",
        )

    def reattach(
        self,
        handle: ModelHandle,
        data: DataBundle,
        context: StrategyContext,
        state: Mapping[str, Any],
        epochs_done: int,
    ) -> list[str]:
        return list(self.apply(handle, data, context).changes)


STRATEGY = Regularize
