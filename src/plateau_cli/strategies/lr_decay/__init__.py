"""lr-decay: resume with a lower learning rate, keeping the optimizer's state.

Helps when the loss oscillates or has stalled at a level the model could go below: the steps
are too large to settle into the minimum (the classic ReduceLROnPlateau situation). Does not
help when the model lacks capacity (underfitting at a high training loss: widen), when its
units are dead (FINDINGS: no learning rate revives a ReLU that outputs 0 everywhere), when a
frozen base holds it back (unfreeze), or when it overfits (augment).

Users' most common complaint about resuming in every framework is that the restored optimizer
silently keeps its old rate; here the override is explicit and recorded in `changes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from plateau_cli.adapters.base import ModelHandle, OptimizerState
from plateau_cli.data.base import DataBundle
from plateau_cli.strategies.base import Strategy, StrategyContext, StrategyOutcome
from plateau_cli.strategies.lr_decay.options import LrDecayOptions
from plateau_cli.strategies.lr_decay.schedules import (
    Constant,
    Cosine,
    Exponential,
    Plateau,
    Schedule,
    ScheduleName,
    Step,
)


class LrDecay(Strategy):
    name: ClassVar[str] = "lr-decay"
    changes_parameter_set: ClassVar[bool] = False
    keeps_function: ClassVar[bool] = True
    helps_when: ClassVar[str] = (
        "the loss oscillates or stalls with a small train/val gap: smaller steps settle deeper"
    )
    does_not_help_when: ClassVar[str] = (
        "the model underfits at a high training loss (widen), a frozen base holds it back"
        " (unfreeze), it overfits (augment), or its ReLU units are dead"
    )
    option_names: ClassVar[frozenset[str]] = frozenset(
        {"factor", "lr", "schedule", "min_lr", "lr_patience", "cooldown", "step_size", "gamma"}
    )

    def __init__(self, options: LrDecayOptions) -> None:
        super().__init__(options)
        self.options: LrDecayOptions = options
        self.schedule: Schedule | None = None

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> LrDecay:
        return cls(LrDecayOptions.from_given(given))

    def build_schedule(self, lr: float, context: StrategyContext) -> Schedule:
        o = self.options
        match o.schedule:
            case ScheduleName.CONSTANT:
                return Constant(lr, o.min_lr)
            case ScheduleName.STEP:
                return Step(lr, o.effective_gamma, o.step_size, o.min_lr)
            case ScheduleName.COSINE:
                return Cosine(lr, context.epochs, o.min_lr)
            case ScheduleName.EXPONENTIAL:
                return Exponential(lr, o.effective_gamma, o.min_lr)
            case ScheduleName.PLATEAU:
                return Plateau(
                    lr, o.effective_factor, o.lr_patience, o.cooldown, context.monitor, o.min_lr
                )

    def apply(
        self, handle: ModelHandle, data: DataBundle, context: StrategyContext
    ) -> StrategyOutcome:
        old = handle.learning_rate()
        new = (
            self.options.lr
            if self.options.lr is not None
            else (old or 0.0) * self.options.effective_factor
        )
        new = max(new, self.options.min_lr)
        self.schedule = self.build_schedule(new, context)
        note = handle.set_learning_rate(self.schedule.lr_at(1))
        state = handle.describe().optimizer.state
        how = (
            "overrides the restored optimizer's rate"
            if state is OptimizerState.RESTORED
            else "a new optimizer: the checkpoint held no usable optimizer state"
        )
        if old and abs(new - old) > 1e-12 * max(abs(old), abs(new)):
            changes = [f"learning rate {old:g} -> {new:g} ({how})"]
        else:  # --lr equal to the rate already in place: nothing to show as a change
            changes = [f"learning rate {new:g} ({how})" if old else f"learning rate {new:g}"]
        if note:
            changes.append(note)
        if self.options.schedule is not ScheduleName.CONSTANT:
            changes.append(f"schedule for the resumed epochs: {self.schedule.describe()}")
        parameters = {
            "factor": None if self.options.lr is not None else self.options.effective_factor,
            "lr": new,
            "previous_lr": old,
            "schedule": self.options.schedule.value,
            "min_lr": self.options.min_lr,
        }
        if self.options.schedule is ScheduleName.PLATEAU:
            parameters |= {
                "lr_patience": self.options.lr_patience,
                "cooldown": self.options.cooldown,
            }
        if self.options.schedule is ScheduleName.STEP:
            parameters |= {
                "step_size": self.options.step_size,
                "gamma": self.options.effective_gamma,
            }
        if self.options.schedule is ScheduleName.EXPONENTIAL:
            parameters |= {"gamma": self.options.effective_gamma}
        kept = OptimizerState.RESTORED if state is OptimizerState.RESTORED else state
        return StrategyOutcome(
            changes=tuple(changes),
            parameters=parameters,
            optimizer_state=kept,
            optimizer_detail="moments and step count continue"
            if kept is OptimizerState.RESTORED
            else None,
        )

    def continuation_state(self) -> dict[str, Any]:
        if self.schedule is None:
            return {}
        state: dict[str, Any] = {"lr": self.schedule.lr}
        if isinstance(self.schedule, Plateau):
            state |= {
                "current": self.schedule.current,
                "best": self.schedule.best,
                "wait": self.schedule.wait,
                "cooldown_counter": self.schedule.cooldown_counter,
            }
        return state

    def reattach(
        self,
        handle: ModelHandle,
        data: DataBundle,
        context: StrategyContext,
        state: Mapping[str, Any],
        epochs_done: int,
    ) -> list[str]:
        """The decayed rate is in the checkpoint's optimizer; the schedule resumes its position."""
        self.schedule = self.build_schedule(float(state["lr"]), context)
        if isinstance(self.schedule, Plateau):
            self.schedule.current = float(state["current"])
            self.schedule.best = state["best"]
            self.schedule.wait = int(state["wait"])
            self.schedule.cooldown_counter = int(state["cooldown_counter"])
        rate = self.schedule.lr_at(epochs_done + 1)
        handle.set_learning_rate(rate)
        return [
            f"continued the {self.options.schedule.value} schedule at epoch {epochs_done + 1}"
            f" (lr {rate:g})"
        ]

    def on_epoch_begin(self, handle: ModelHandle, epoch: int) -> list[str]:
        if self.schedule is None or epoch == 1 or isinstance(self.schedule, (Constant, Plateau)):
            return []
        handle.set_learning_rate(self.schedule.lr_at(epoch))
        return []

    def on_epoch_end(self, handle: ModelHandle, epoch: int, logs: Mapping[str, float]) -> list[str]:
        if not isinstance(self.schedule, Plateau):
            return []
        value = logs.get(self.schedule.monitor.metric)
        if value is None:
            return []
        before = self.schedule.current
        new = self.schedule.observe(epoch, float(value))
        if new is None:
            return []
        handle.set_learning_rate(new)
        return [
            f"epoch {epoch}: learning rate {before:g} -> {new:g} (no improvement for"
            f" {self.schedule.patience} epochs)"
        ]


STRATEGY = LrDecay
