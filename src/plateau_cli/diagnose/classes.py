"""How many classes? The chance levels (1/C accuracy, ln C loss) the detectors compare with.

A log rarely says how many classes there are. In order of trust:

1. `--num-classes` (the user knows).
2. The loss and the accuracy agree on one C: a model that predicts the uniform distribution
   has cross-entropy ln C and accuracy 1/C, so exp(loss) ≈ 1/accuracy (within 15 %) at the first
   or the last epochs pins C down, and only then.
3. The accuracy alone stays flat near 1/C for a whole number C >= 2 (an assumption, and the
   evidence says so), unless the loss, when logged, sits clearly away from ln C.

Otherwise C is unknown and the chance checks say they could not run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from plateau_cli.diagnose.series import common_positions
from plateau_cli.history import RunHistory

#: exp(loss) and 1/accuracy must agree this closely (relative) to pin C down.
AGREEMENT = 0.15
#: Accuracy that moves less than this over the run counts as flat (route 3).
FLAT_ACCURACY_SPREAD = 0.05
#: 1/accuracy must lie this close (relative) to a whole number (route 3).
WHOLE_NUMBER_TOLERANCE = 0.1
#: Accuracy above this cannot be a chance level of C >= 2 (route 3).
MAX_CHANCE_ACCURACY = 0.55
#: Route 3 needs the loss (when logged) within this share of ln C (plus 0.1) at the end.
LOSS_AGREEMENT = 0.25
_MAX_CLASSES = 100_000


@dataclass(frozen=True)
class Classes:
    """The number of classes and where it came from (`source` is shown in evidence)."""

    count: int | None
    source: str
    #: Given by the user or read from their data, not inferred from the log.
    given: bool = False

    @property
    def known(self) -> bool:
        return self.count is not None

    @property
    def chance_accuracy(self) -> float | None:
        return None if self.count is None else 1.0 / self.count

    @property
    def chance_loss(self) -> float | None:
        return None if self.count is None else math.log(self.count)


def accuracy_metric(history: RunHistory) -> str | None:
    """The accuracy to judge: validation accuracy when logged, else training accuracy."""
    for name in ("val_accuracy", "accuracy"):
        if name in history.epochs:
            return name
    return None


def infer_classes(
    history: RunHistory, num_classes: int | None, source: str = "--num-classes"
) -> Classes:
    if num_classes is not None:
        return Classes(num_classes, source, given=True)
    for loss_name, acc_name in (("val_loss", "val_accuracy"), ("loss", "accuracy")):
        count = _from_loss_and_accuracy(history, loss_name, acc_name)
        if count is not None:
            return Classes(count, f"exp({loss_name}) ≈ 1/{acc_name}")
    name = accuracy_metric(history)
    if name is not None:
        count = _from_flat_accuracy(history.values(name))
        if count is not None and _loss_disagrees(history, name, count):
            return Classes(
                None, f"unknown ({name} flat near 1/{count}, but the loss is not ln {count})"
            )
        if count is not None:
            return Classes(count, f"{name} flat near 1/C (assumed)")
    return Classes(None, "unknown")


def _from_loss_and_accuracy(history: RunHistory, loss_name: str, acc_name: str) -> int | None:
    loss, acc = history.get(loss_name), history.get(acc_name)
    if loss is None or acc is None:
        return None
    common, li, ai = common_positions(loss.index, acc.index)
    if common.size == 0:
        return None
    pairs = np.column_stack([loss.values[li], acc.values[ai]])
    pairs = pairs[np.isfinite(pairs).all(axis=1)]
    if pairs.shape[0] == 0:
        return None
    # The level at the end (a stuck model), then the first epoch (a barely trained one).
    candidates = [np.median(pairs[-3:], axis=0), pairs[0]]
    for loss_value, acc_value in candidates:
        if not (0.0 < acc_value <= MAX_CHANCE_ACCURACY) or not (0.0 < loss_value < 20.0):
            continue
        from_acc, from_loss = 1.0 / acc_value, math.exp(loss_value)
        if abs(from_acc - from_loss) <= AGREEMENT * max(from_acc, from_loss):
            count = round(from_loss)
            if 2 <= count <= _MAX_CLASSES:
                return count
    return None


def _loss_disagrees(history: RunHistory, accuracy_name: str, count: int) -> bool:
    """True when the matching loss sits clearly away from ln C at the end: a 10-class model
    stuck at 35 % has a loss near 1.8, not ln 3 = 1.1, so C = 3 must not be assumed."""
    loss_name = "val_loss" if accuracy_name.startswith("val_") else "loss"
    values = history.values(loss_name) if loss_name in history.epochs else np.array([])
    finite = values[np.isfinite(values)]
    if finite.shape[0] == 0:
        return False
    level = float(np.median(finite[-3:]))
    chance = math.log(count)
    return abs(level - chance) > LOSS_AGREEMENT * chance + 0.1


def _from_flat_accuracy(values: np.ndarray) -> int | None:
    finite = values[np.isfinite(values)]
    if finite.shape[0] < 3 or float(np.ptp(finite)) > FLAT_ACCURACY_SPREAD:
        return None
    level = float(np.median(finite))
    if not 0.0 < level <= MAX_CHANCE_ACCURACY:
        return None
    count = round(1.0 / level)
    if count < 2 or count > _MAX_CLASSES:
        return None
    if abs(1.0 / level - count) > WHOLE_NUMBER_TOLERANCE * count:
        return None
    return count
