"""unfreeze: let the top of a frozen pretrained base train again, slower than the head.

Helps when transfer learning is stuck: a base pretrained on other data and frozen, with only the
head training, gives features that do not fit the new task, and no head can do better on them.
Unfreezing the blocks closest to the head lets them adapt. Following ULMFiT (Howard and Ruder,
2018): discriminative rates (the unfrozen layers at `--base-lr-mult` times the head's rate, so
the pretrained features move slowly) and, with --gradual, one more block each epoch from the
top. BatchNorm layers of the base stay frozen in inference mode unless --train-bn.

Does not help when nothing is frozen (then it refuses, exit 2, naming what might: lr-decay,
widen, or `plateau-cli diagnose` on the log), nor when the model overfits a small dataset:
unfreezing adds trainable capacity and can make overfitting worse (augment first).

What a block is, and the default count (the top third of the frozen blocks, at least one; all
of them with --gradual, one per epoch): see `blocks`. Frameworks: `keras` (with `keras_rates`
for the exact per-group rate) and `torch` (`add_param_group`).

Measured on the sample `unfreeze` models (2 frozen blocks: conv1+bn1, conv2; the default
unfreezes conv2), best val_loss in 10 epochs, mean of seeds 0-2 (baseline 0.653 Keras, 0.821
torch; continue-unchanged 0.641 / 0.818):

    --base-lr-mult          0.1     0.3     1.0     --layers all: 0.1   0.3   --gradual 0.3
    Keras                   0.439   0.358   0.341                 0.365 0.316       0.320
    torch                   0.664   0.579   0.491                 0.625 0.498       0.499

0.3 is the default: it beats 0.1 by far in both frameworks. 1.0 did better still on this tiny,
weakly pretrained base, but it is no discriminative rate at all; on a real pretrained base the
slower base is what keeps its features from being overwritten (ULMFiT, Lightning's
BackboneFinetuning starts the base at 0.1x).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, ClassVar

from plateau_cli.adapters.base import ModelHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.strategies.base import Strategy, StrategyContext, StrategyOutcome
from plateau_cli.strategies.unfreeze.blocks import (
    Block,
    group_blocks,
    resolve_count,
    stages,
    top_blocks,
)
from plateau_cli.strategies.unfreeze.options import UnfreezeOptions
from plateau_cli.strategies.unfreeze.wording import names, not_applicable, plan_line, stage_line


class Unfreeze(Strategy):
    name: ClassVar[str] = "unfreeze"
    changes_parameter_set: ClassVar[bool] = True
    helps_when: ClassVar[str] = (
        "transfer learning is stuck: a frozen pretrained base whose features do not fit the new"
        " task holds the head back; its top blocks train again at a lower rate"
    )
    does_not_help_when: ClassVar[str] = (
        "nothing is frozen (try lr-decay or widen), or the model overfits a small dataset:"
        " unfreezing adds capacity and can make that worse (augment)"
    )
    option_names: ClassVar[frozenset[str]] = frozenset(
        {"layers", "gradual", "base_lr_mult", "train_bn"}
    )

    def __init__(self, options: UnfreezeOptions) -> None:
        super().__init__(options)
        self.options: UnfreezeOptions = options
        self._surgeon: Any = None
        self._pending: list[tuple[Block, ...]] = []
        self._batch_norms: tuple[str, ...] = ()
        #: Units unfrozen so far, one tuple per stage (for a continued run).
        self._done: list[tuple[str, ...]] = []

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> Unfreeze:
        return cls(UnfreezeOptions.from_given(given))

    @property
    def needs_epoch_segments(self) -> bool:
        """Gradual unfreezing changes the trainable set between epochs (Keras retraces)."""
        return self.options.gradual

    def apply(
        self, handle: ModelHandle, data: DataBundle, context: StrategyContext
    ) -> StrategyOutcome:
        o = self.options
        module = importlib.import_module(f"{__name__}.{handle.framework}")
        surgeon = self._surgeon = module.SURGEON(handle)
        units = surgeon.units()
        self._batch_norms = tuple(u.name for u in units if u.batch_norm)
        blocks = group_blocks(units, o.train_bn)
        before = surgeon.trainable_params()
        if not blocks:
            raise StrategyNotApplicableError(
                not_applicable(handle.path, units, before, surgeon.unknown_frozen_hint())
            )
        count = resolve_count(o.layers, len(blocks), o.gradual)
        chosen = top_blocks(blocks, count)
        plan = stages(chosen, o.gradual)
        head_lr = surgeon.head_rate()
        first = surgeon.unfreeze(plan[0], o.base_lr_mult, o.train_bn)
        self._done.append(first.trained)
        self._pending = plan[1:]
        changes = [stage_line(first, o.base_lr_mult, o.train_bn, self._batch_norms), *first.notes]
        if self._pending:
            changes.append(plan_line(self._pending, context.epochs))
        if isinstance(o.layers, int) and o.layers > len(blocks):
            changes.append(
                f"--layers {o.layers}: {handle.path.name} has {len(blocks)} frozen blocks;"
                " all of them"
            )
        planned = {u.name for block in chosen for u in block.units}
        still_frozen = [u.name for b in blocks for u in b.units if u.name not in planned]
        after = surgeon.trainable_params()
        planned_total = before + sum(b.parameters(o.train_bn) for b in chosen)
        later = f", {planned_total:,} once every planned block is unfrozen" if self._pending else ""
        left = names(still_frozen) if still_frozen else "nothing"
        changes.append(f"trainable parameters {before:,} -> {after:,}{later}; left frozen: {left}")
        state, detail = surgeon.optimizer_outcome()
        details: dict[str, Any] = {
            "frozen_blocks": [[u.name for u in b.units] for b in blocks],
            "unfrozen": list(first.trained),
            "kept_in_inference_mode": list(first.kept),
            "still_frozen": still_frozen,
            "head_lr": head_lr,
            "base_lr": first.lr,
            "trainable_params_before": before,
            "trainable_params_after": after,
            **surgeon.describe_rates(),
        }
        if o.gradual:
            details["gradual_plan"] = [
                {"epoch": epoch, "units": [u.name for b in stage for u in b.trained(o.train_bn)]}
                for epoch, stage in enumerate(plan, start=1)
            ]
        return StrategyOutcome(
            changes=tuple(changes),
            parameters={
                "layers": o.layers if o.layers is not None else "default",
                "blocks": count,
                "frozen_blocks": len(blocks),
                "gradual": o.gradual,
                "base_lr_mult": o.base_lr_mult,
                "train_bn": o.train_bn,
            },
            optimizer_state=state,
            optimizer_detail=detail,
            details=details,
        )

    def on_epoch_begin(self, handle: ModelHandle, epoch: int) -> list[str]:
        if epoch < 2 or not self._pending:
            return []
        stage = self._surgeon.unfreeze(
            self._pending.pop(0), self.options.base_lr_mult, self.options.train_bn
        )
        self._done.append(stage.trained)
        line = stage_line(
            stage, self.options.base_lr_mult, self.options.train_bn, self._batch_norms
        )
        return [f"epoch {epoch}: {line}", *(f"epoch {epoch}: {note}" for note in stage.notes)]

    def continuation_state(self) -> dict[str, Any]:
        return {
            "done": [list(stage) for stage in self._done],
            "pending": [[u.name for b in stage for u in b.units] for stage in self._pending],
        }

    def reattach(
        self,
        handle: ModelHandle,
        data: DataBundle,
        context: StrategyContext,
        state: Mapping[str, Any],
        epochs_done: int,
    ) -> list[str]:
        """The unfrozen layers are trainable in the continuation checkpoint; give them their
        rate (Keras) or their BatchNorms' inference mode (torch) back, and the stages to come."""
        module = importlib.import_module(f"{__name__}.{handle.framework}")
        surgeon = self._surgeon = module.SURGEON(handle)
        self._done = [tuple(stage) for stage in state.get("done", [])]
        lines = surgeon.reattach(self._done, self.options.base_lr_mult) if self._done else []
        units = surgeon.units()
        self._batch_norms = tuple(u.name for u in units if u.batch_norm)
        frozen = {b.name: b for b in group_blocks(units, self.options.train_bn)}
        self._pending = []
        for stage_units in state.get("pending", []):
            stage = tuple(frozen[n] for n in stage_units if n in frozen)
            if stage:
                self._pending.append(stage)
        if self._pending:
            lines.append(plan_line(self._pending, context.epochs))
        return lines


STRATEGY = Unfreeze
