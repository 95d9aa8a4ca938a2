"""lr-decay's options, validated before any framework is imported."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plateau_cli.errors import UsageError
from plateau_cli.strategies.lr_decay.schedules import ScheduleName

DEFAULT_FACTOR = 0.1  # as ReduceLROnPlateau
DEFAULT_STEP_SIZE = 5
DEFAULT_GAMMA = {ScheduleName.STEP: 0.1, ScheduleName.EXPONENTIAL: 0.9}

#: Which schedule each schedule-specific option belongs to.
_SCHEDULE_OPTIONS = {
    "lr_patience": {ScheduleName.PLATEAU},
    "cooldown": {ScheduleName.PLATEAU},
    "step_size": {ScheduleName.STEP},
    "gamma": {ScheduleName.STEP, ScheduleName.EXPONENTIAL},
}


@dataclass(frozen=True)
class LrDecayOptions:
    factor: float | None = None
    lr: float | None = None
    schedule: ScheduleName = ScheduleName.CONSTANT
    min_lr: float = 0.0
    lr_patience: int = 2
    cooldown: int = 0
    step_size: int = DEFAULT_STEP_SIZE
    gamma: float | None = None

    def __post_init__(self) -> None:
        if self.factor is not None and self.lr is not None:
            raise UsageError("give --factor or --lr, not both (--lr sets the new rate directly)")
        if self.factor is not None and not (0.0 < self.factor < 1.0):
            raise UsageError(
                "lr-decay --factor must be between 0 and 1 (exclusive)."
                f" Received: factor={self.factor}"
            )
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"--lr must be a positive number. Received: lr={self.lr}")
        if not (math.isfinite(self.min_lr) and self.min_lr >= 0):
            raise UsageError(f"--min-lr must be >= 0. Received: min_lr={self.min_lr}")
        if self.lr is not None and self.lr < self.min_lr:
            raise UsageError(f"--lr {self.lr:g} is below --min-lr {self.min_lr:g}")
        if self.lr_patience < 1:
            raise UsageError(f"--lr-patience must be >= 1. Received: {self.lr_patience}")
        if self.cooldown < 0:
            raise UsageError(f"--cooldown must be >= 0. Received: {self.cooldown}")
        if self.step_size < 1:
            raise UsageError(f"--step-size must be >= 1. Received: {self.step_size}")
        if self.gamma is not None and not (0.0 < self.gamma < 1.0):
            raise UsageError(f"--gamma must be between 0 and 1 (exclusive). Received: {self.gamma}")

    @property
    def effective_factor(self) -> float:
        return DEFAULT_FACTOR if self.factor is None else self.factor

    @property
    def effective_gamma(self) -> float:
        return self.gamma if self.gamma is not None else DEFAULT_GAMMA.get(self.schedule, 0.1)

    @classmethod
    def from_given(cls, given: Mapping[str, Any]) -> LrDecayOptions:
        values = dict(given)
        if "schedule" in values:
            try:
                values["schedule"] = ScheduleName(values["schedule"])
            except ValueError:
                valid = ", ".join(s.value for s in ScheduleName)
                raise UsageError(
                    f"unknown --schedule {values['schedule']!r}; choose one of: {valid}"
                ) from None
        schedule = values.get("schedule", ScheduleName.CONSTANT)
        for option, schedules in _SCHEDULE_OPTIONS.items():
            if option in values and schedule not in schedules:
                flag = "--" + option.replace("_", "-")
                needs = " or ".join(s.value for s in sorted(schedules, key=lambda s: s.value))
                raise UsageError(
                    f"{flag} applies to --schedule {needs} only (the schedule is {schedule.value})"
                )
        return cls(**values)
