"""augment: resume an overfit model on augmented training data.

Helps when the model overfits: its training loss is far below the validation loss, typically on
small data. It has memorised the training set, so the training loss is ~0 and nothing moves;
augmented data gives it a training signal again, and what it learns from that signal is what
survives the transforms (a digit's shape, not its exact pixels).

Does not help when the model underfits at a high training loss (augmentation makes the task
harder; widen it instead), nor when the augmentation is too weak to lift the training loss off
zero: then the model does not change at all (FINDINGS §3). The report therefore puts the clean
training loss beside the first augmented epoch's and warns when the latter stays near zero.

What it does: images (rank-3 samples) get random geometric and colour transforms (`--augment`),
any input can get Gaussian noise scaled to each feature's spread (`--noise`) and mixup
(`--mixup`), and every epoch makes `--copies` augmented passes over the training data.
Validation data is never augmented. The optimizer and its state carry on: the parameters do
not change, only what they are trained on.

Defaults, measured through the CLI (seeds 0-2, best val_loss, Keras / torch). Vector inputs:
the `augment` samples, an MLP 64-64-10 that memorised 120 digits (training loss 0.003, val_loss
0.303 / 0.303, which continuing unchanged keeps). At the CLI's 10 epochs and patience 5, noise
1.0 of each feature's spread, 4 passes and rate x0.2 give 0.277 / 0.278, every run improving;
the restored rate 0.303 / 0.272 (Keras never improves: the first epochs overshoot and early
stopping ends the run), x0.5 0.290 / 0.266, x0.1 0.283 / 0.280; noise 0.7 0.283 / 0.280, 1.5
0.277 / 0.273; 8 passes 0.271 / 0.272 at twice the cost. Over 20 epochs without early stopping
at the restored rate: noise 0.3 and 0.5 leave the training loss at ~0.01 (0.298 / 0.299, 0.287
/ 0.280), mixup 0.4 gives 0.298 / 0.295, and noise 1.0 0.244 / 0.240, better than x0.2's 0.260
/ 0.263 there: `--lr-mult 1` suits long runs. Why the rate: the restored optimizer state was
built on a training loss of ~0 (Adam's second moments are tiny and trail by ~1000 steps), so the
gradients augmented data brings back are first taken in steps several times the nominal rate.
Images, a small CNN overfit on the same 120 digits as 8x8 images (val_loss 0.277 / 0.234):
rotate 10, shift 0.1, zoom 0.1 at rate x0.2 gives 0.224 / 0.209; adding contrast and brightness
0.241 / 0.218; adding a horizontal flip undoes all gain (0.277 / 0.236 at the restored rate): a
mirrored digit, letter or arrow is another class, so flipping is opt-in (`--augment flip`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, ClassVar

from plateau_cli.adapters.base import ModelHandle, OptimizerState
from plateau_cli.data.base import DataBundle
from plateau_cli.errors import StrategyNotApplicableError, UsageError
from plateau_cli.strategies.augment.options import DEFAULT_LR_MULT, AugmentOptions, show
from plateau_cli.strategies.augment.plan import LossWatch, Plan, make_plan
from plateau_cli.strategies.base import (
    Strategy,
    StrategyContext,
    StrategyOutcome,
    refuse_named_io,
)


class Augment(Strategy):
    name: ClassVar[str] = "augment"
    changes_parameter_set: ClassVar[bool] = False
    helps_when: ClassVar[str] = (
        "the model overfits (training loss far below validation, often small data): augmented"
        " data gives it a training signal again"
    )
    does_not_help_when: ClassVar[str] = (
        "it underfits at a high training loss (augmentation makes the task harder: widen), or"
        " the augmentation is too weak to lift the training loss off zero"
    )
    option_names: ClassVar[frozenset[str]] = frozenset(
        {"augment", "noise", "mixup", "copies", "bake", "lr_mult"}
    )

    def __init__(self, options: AugmentOptions) -> None:
        super().__init__(options)
        self.options: AugmentOptions = options
        self.watch: LossWatch | None = None

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> Augment:
        return cls(AugmentOptions.from_given(given))

    def _plan(self, handle: ModelHandle, data: DataBundle) -> Plan:
        refuse_named_io(self.name, handle, data, "perturbs one input array")
        io = handle.io_spec()
        if io.string_inputs:
            raise StrategyNotApplicableError(
                "augment perturbs input values, and this model takes strings (text into"
                " TextVectorization or StringLookup): there is no value to add noise to; try"
                " --strategy regularize for overfitting, or lr-decay"
            )
        if io.integer_inputs:
            raise StrategyNotApplicableError(
                "augment perturbs input values, and this model's inputs are token ids (it"
                " embeds them): noise or mixup on ids makes other tokens, not variations"
            )
        shape = data.train.x.shape[1:] if data.is_arrays else io.input_shape
        if shape is None:
            # Not applicable rather than a usage error: `trial` then races the others.
            raise StrategyNotApplicableError(
                "augment cannot tell the shape of one input sample: the model does not say and"
                " the data is not arrays (or the model takes several inputs); give --data as an"
                " .npz or an image folder"
            )
        return make_plan(self.options, shape, io.channels_last, handle.framework)

    def apply(
        self, handle: ModelHandle, data: DataBundle, context: StrategyContext
    ) -> StrategyOutcome:
        plan = self._plan(handle, data)
        lr_changes, lr_parameters = self._learning_rate(handle, context)
        applied = _framework(handle).apply(handle, data, plan, context.seed)
        plan = applied.plan
        self.watch = LossWatch(context.baseline.get("loss"), context.baseline.get("val_loss"))
        state = handle.describe().optimizer.state
        return StrategyOutcome(
            changes=(*plan.changes(), *applied.notes, *lr_changes),
            parameters={
                "augment": ",".join(f"{s.name}={show(s.value)}" for s in plan.transforms),
                "noise": plan.value("noise"),
                "mixup": plan.value("mixup"),
                "copies": plan.copies,
                "bake": plan.bake,
                "default_set": plan.defaulted,
                "input": plan.kind.value,
                **lr_parameters,
            },
            optimizer_state=state,
            optimizer_detail=(
                "moments and step count continue: augment changes the data, not the parameters"
                if state is OptimizerState.RESTORED
                else None
            ),
            details={
                "transforms": plan.details(),
                "copies": plan.copies,
                "training_loss": self.watch,
                **applied.details,
            },
        )

    def _learning_rate(
        self, handle: ModelHandle, context: StrategyContext
    ) -> tuple[list[str], dict[str, Any]]:
        """Lower the restored rate by --lr-mult, unless the user set one with --lr."""
        rate = handle.learning_rate()
        if context.lr_override is not None:
            if self.options.lr_mult is not None:
                raise UsageError(
                    "give --lr or --lr-mult, not both: --lr sets the rate, --lr-mult scales the"
                    " restored one"
                )
            return [
                f"learning rate {rate:g} as set by --lr (augment's default x{DEFAULT_LR_MULT:g}"
                " not applied)"
            ], {"lr_mult": None, "lr": rate}
        mult = self.options.effective_lr_mult
        if rate is None or mult == 1.0:
            return [], {"lr_mult": mult, "lr": rate}
        new = rate * mult
        note = handle.set_learning_rate(new)
        changes = [f"learning rate {rate:g} -> {new:g} (x{mult:g}: {_why_lower(context)})"]
        return changes + ([note] if note else []), {"lr_mult": mult, "lr": new, "previous_lr": rate}

    def on_epoch_end(self, handle: ModelHandle, epoch: int, logs: Mapping[str, float]) -> list[str]:
        """After the first epoch: is the augmented training loss still near zero?"""
        if epoch != 1 or self.watch is None or "loss" not in logs:
            return []
        warning = self.watch.observe(float(logs["loss"]))
        return [warning] if warning else []

    def continuation_state(self) -> dict[str, Any]:
        return {"training_loss": dict(self.watch)} if self.watch is not None else {}

    def reattach(
        self,
        handle: ModelHandle,
        data: DataBundle,
        context: StrategyContext,
        state: Mapping[str, Any],
        epochs_done: int,
    ) -> list[str]:
        """The transform lives outside the checkpoint: build it again (baked layers, the lowered
        rate and the optimizer state are in the checkpoint already), drawing from a seed moved
        on by the epochs done, so the continued epochs do not repeat the first ones' draws."""
        plan = self._plan(handle, data)
        _framework(handle).apply(handle, data, plan, context.seed + epochs_done, rebuild=True)
        watch = state.get("training_loss") or {}
        self.watch = LossWatch(
            watch.get("clean", context.baseline.get("loss")),
            watch.get("clean_val_loss", context.baseline.get("val_loss")),
            watch.get("augmented_epoch_1"),
            watch.get("too_weak"),
        )
        names = ", ".join(s.name for s in plan.transforms)
        return [f"augmentation re-established ({names}; {plan.copies} passes per epoch)"]


def _framework(handle: ModelHandle) -> Any:
    return importlib.import_module(f"plateau_cli.strategies.augment.{handle.framework}")


STRATEGY = Augment


def _why_lower(context: StrategyContext) -> str:
    """Why the rate goes down, in this model's own numbers (not a canned case)."""
    loss, val = context.baseline.get("loss"), context.baseline.get("val_loss")
    if loss is None:
        return "augmented batches are a new, noisier signal; --lr-mult 1 keeps the rate"
    if val is not None and loss < 0.5 * val:
        return (
            f"at training loss {loss:.3g} (validation {val:.3g}) the memorised data gave almost"
            " no gradient; the augmented batches give large ones again, and smaller steps take"
            " them without undoing what the model learned; --lr-mult 1 keeps the rate"
        )
    return (
        f"the augmented batches are a new, noisier signal for a model at training loss"
        f" {loss:.3g}; smaller steps keep it from undoing what it learned; --lr-mult 1 keeps"
        " the rate"
    )
