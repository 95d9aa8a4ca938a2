"""Learning-rate schedules for the resumed epochs, shared by every framework.

The adapter only knows how to read and set "the rate for the next steps"; the arithmetic lives
here once, so Keras and PyTorch resume with exactly the same rates. Epochs count from 1 within
the resumed run. `plateau` reproduces Keras' ReduceLROnPlateau (wait, cooldown, min_lr), using
the project's one `Monitor` for "did it improve".
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum

from plateau_cli.monitor import Monitor


class ScheduleName(str, Enum):
    CONSTANT = "constant"
    STEP = "step"
    COSINE = "cosine"
    EXPONENTIAL = "exponential"
    PLATEAU = "plateau"


class Schedule(ABC):
    """The rate for each resumed epoch, starting from `lr` (the decayed rate)."""

    lr: float
    min_lr: float

    @abstractmethod
    def lr_at(self, epoch: int) -> float:
        """Rate for `epoch` (1-based), before any plateau reductions."""

    def observe(self, epoch: int, value: float) -> float | None:
        """Feed the monitored value after `epoch`; return a new rate when the schedule reacts."""
        return None

    @abstractmethod
    def describe(self) -> str:
        """One phrase for the report: "cosine from 0.001 to 0 over 10 epochs"."""


@dataclass
class Constant(Schedule):
    lr: float
    min_lr: float = 0.0

    def lr_at(self, epoch: int) -> float:
        return self.lr

    def describe(self) -> str:
        return f"constant {self.lr:g}"


@dataclass
class Step(Schedule):
    lr: float
    gamma: float
    step_size: int
    min_lr: float = 0.0

    def lr_at(self, epoch: int) -> float:
        return max(self.lr * self.gamma ** ((epoch - 1) // self.step_size), self.min_lr)

    def describe(self) -> str:
        return f"step: x{self.gamma:g} every {self.step_size} epochs from {self.lr:g}"


@dataclass
class Cosine(Schedule):
    lr: float
    epochs: int
    min_lr: float = 0.0

    def lr_at(self, epoch: int) -> float:
        progress = min(max(epoch - 1, 0) / max(self.epochs, 1), 1.0)
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def describe(self) -> str:
        return f"cosine from {self.lr:g} towards {self.min_lr:g} over {self.epochs} epochs"


@dataclass
class Exponential(Schedule):
    lr: float
    gamma: float
    min_lr: float = 0.0

    def lr_at(self, epoch: int) -> float:
        return max(self.lr * self.gamma ** (epoch - 1), self.min_lr)

    def describe(self) -> str:
        return f"exponential: x{self.gamma:g} per epoch from {self.lr:g}"


@dataclass
class Plateau(Schedule):
    """Keras ReduceLROnPlateau's rule, epoch by epoch."""

    lr: float
    factor: float
    patience: int
    cooldown: int
    monitor: Monitor
    min_lr: float = 0.0
    current: float = field(init=False)
    best: float | None = field(init=False, default=None)
    wait: int = field(init=False, default=0)
    cooldown_counter: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.current = self.lr

    def lr_at(self, epoch: int) -> float:
        return self.current

    def observe(self, epoch: int, value: float) -> float | None:
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.monitor.is_improvement(value, self.best):
            self.best = value
            self.wait = 0
            return None
        if self.cooldown_counter > 0:
            return None
        self.wait += 1
        if self.wait < self.patience or self.current <= self.min_lr:
            return None
        self.current = max(self.current * self.factor, self.min_lr)
        self.cooldown_counter = self.cooldown
        self.wait = 0
        return self.current

    def describe(self) -> str:
        return (
            f"plateau: x{self.factor:g} after {self.patience} epochs without improvement of"
            f" {self.monitor.metric} (cooldown {self.cooldown}, min {self.min_lr:g})"
            f" from {self.lr:g}"
        )
