"""regularize: raise weight decay, and dropout where the model has dropout, then resume.

For the overfitting that augmentation does not fix (FINDINGS §6: a 100-image CNN got worse
under augment, 1.30 -> 1.38, while its own best epoch had 1.02). Weight decay is decoupled
where the optimizer supports it (Keras optimizers, torch AdamW: `--weight-decay`, default
0.05) and an L2 term otherwise (torch SGD/Adam, default 5e-4); existing Dropout layers are
raised to at least `--dropout` (0.5). No layer is added: the architecture stays the user's.

With the run's log (`--log`), regularize first checks whether the checkpoint is past the log's
best validation epoch (the last epoch worse than the best by more than 1%). If it is, and a
checkpoint of the best epoch sits beside the model (`epoch=07.ckpt`, `model-07.keras`,
`checkpoint-7`, ...: rollback.py), training resumes from that one, weights and optimizer state
(`--no-rollback` keeps the given checkpoint); where none is there, the report says the
checkpoint is past the best and that nothing earlier was found. Resume restores its own best
epoch at the end, as always.

Helps when training loss is far below validation and augmentation has not helped. Does not
help when the model underfits (widen, lr-find).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from plateau_cli.adapters.base import ModelHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.strategies.base import Strategy, StrategyContext, StrategyOutcome
from plateau_cli.strategies.regularize.options import RegularizeOptions
from plateau_cli.strategies.regularize.rollback import EXAMPLES, checkpoint_of_epoch, past_best


class Regularize(Strategy):
    name: ClassVar[str] = "regularize"
    changes_parameter_set: ClassVar[bool] = False
    helps_when: ClassVar[str] = (
        "the model overfits (training loss far below validation) and augmentation did not help"
    )
    does_not_help_when: ClassVar[str] = "the model underfits: it lacks capacity or rate"
    option_names: ClassVar[frozenset[str]] = frozenset({"weight_decay", "dropout", "rollback"})

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
        rolled, details = self._roll_back(handle, context)
        changes, parameters = surgery.apply(handle, self.options)  # type: ignore[arg-type]
        return StrategyOutcome(
            changes=(*rolled, *changes),
            parameters={**parameters, "rollback": self.options.rollback},
            optimizer_state=handle.describe().optimizer.state,
            optimizer_detail="moments and step count continue"
            + (f" (from {details['rolled_back_to']})" if details.get("rolled_back_to") else ""),
            details=details,
        )

    def _roll_back(
        self, handle: ModelHandle, context: StrategyContext
    ) -> tuple[list[str], dict[str, Any]]:
        """Load the log's best epoch's checkpoint into `handle` when it is there (and allowed)."""
        if context.log is None or context.model_path is None:
            return [], {}
        past = past_best(context.log, context.monitor)
        if past is None:
            return [], {}
        said = (
            f"the log's best {past.metric} was at epoch {past.best_epoch} ({past.best_value:.4g});"
            f" it ends {past.epochs_past} epochs later at {past.last_value:.4g}: the checkpoint"
            " is past the best"
        )
        details: dict[str, Any] = {
            "log_best_epoch": past.best_epoch,
            "log_best_value": past.best_value,
            "log_last_epoch": past.last_epoch,
            "rolled_back_to": None,
        }
        found = checkpoint_of_epoch(context.model_path, past.best_epoch)
        if found is None:
            return [
                f"{said}; no checkpoint of epoch {past.best_epoch} beside the model (names such"
                f" as {EXAMPLES}): regularizing from the given checkpoint, past the best"
            ], details
        if not self.options.rollback:
            return [f"{said}; {found.name} holds epoch {past.best_epoch}: kept the given"
                    " checkpoint (--no-rollback)"], details  # fmt: skip
        what = _load_into(handle, found, context)
        details["rolled_back_to"] = str(found)
        return [f"{said}: rolled back to {found.name} ({what})"], details

    def reattach(
        self,
        handle: ModelHandle,
        data: DataBundle,
        context: StrategyContext,
        state: Mapping[str, Any],
        epochs_done: int,
    ) -> list[str]:
        # The continued run's checkpoint already holds the rolled-back, trained weights.
        return list(self.apply(handle, data, dataclasses.replace(context, log=None)).changes)


def _load_into(handle: ModelHandle, path: Path, context: StrategyContext) -> str:
    """Weights (and optimizer state, where it fits) of the checkpoint at `path` into `handle`."""
    from plateau_cli.adapters.base import LoadOptions
    from plateau_cli.adapters.sniff import sniff_checkpoint
    from plateau_cli.errors import BadInputError
    from plateau_cli.frameworks import adapter_for

    sniffed = sniff_checkpoint(path)
    if sniffed.framework != handle.framework:
        raise BadInputError(
            f"{path.name} (the log's best epoch) is a {sniffed.framework} checkpoint, the model"
            f" a {handle.framework} one: pass --no-rollback to regularize the given checkpoint"
        )
    other = adapter_for(sniffed.framework).load(path, sniffed.format, context.load or LoadOptions())
    try:
        handle.restore(other.snapshot())
    except (ValueError, RuntimeError, KeyError) as exc:
        raise BadInputError(
            f"{path.name} (the log's best epoch) does not fit the model: {str(exc)[:200]}"
            " (pass --no-rollback to regularize the given checkpoint)"
        ) from None
    if handle.framework == "keras":
        from plateau_cli.strategies.regularize import keras as surgery
    else:
        from plateau_cli.strategies.regularize import torch as surgery  # type: ignore[no-redef]
    return surgery.copy_optimizer_state(handle, other)  # type: ignore[arg-type]


STRATEGY = Regularize
