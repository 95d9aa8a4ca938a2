"""Majority class: the accuracy is frozen to many decimals while the loss keeps moving.

A model that predicts one class for every example scores exactly that class's share, epoch
after epoch, however its loss (its confidence) changes. Rule, for each accuracy metric:

- the values at the end of the run are identical (within FROZEN_TOLERANCE) for at least
  max(MIN_FROZEN, patience) epochs;
- the frozen value is below PERFECT (a model at 100 % is frozen for a good reason);
- the freeze began within the first FROM_START epochs, or the frozen value is more than
  COLLAPSE below the best accuracy before it (a collapse). A model that learned and then
  stays at its best accuracy is a plateau, not this;
- the matching loss moved during the freeze by more than LOSS_MOVES of its level.
"""

from __future__ import annotations

import numpy as np

from plateau_cli.diagnose.base import Finding, FindingKind, Severity
from plateau_cli.diagnose.context import Context
from plateau_cli.names import is_validation

FROZEN_TOLERANCE = 1e-6
MIN_FROZEN = 5
PERFECT = 0.99
FROM_START = 3
COLLAPSE = 0.1
LOSS_MOVES = 0.01


def _frozen_tail(values: np.ndarray) -> int:
    """How many values at the end equal the last one (within FROZEN_TOLERANCE)."""
    close = np.abs(values - values[-1]) <= FROZEN_TOLERANCE
    moved = np.flatnonzero(~close)
    return int(values.shape[0] - (moved[-1] + 1 if moved.size else 0))


def _check(ctx: Context, name: str) -> Finding | None:
    curve = ctx.curve(name)
    if curve is None or len(curve) < MIN_FROZEN:
        return None
    values = curve.values
    frozen = _frozen_tail(values)
    start = len(curve) - frozen
    value = float(values[-1])
    if frozen < max(MIN_FROZEN, ctx.patience) or value >= PERFECT:
        return None
    best_before = float(values[:start].max()) if start else None
    collapsed = best_before is not None and best_before - value > COLLAPSE
    if start >= FROM_START and not collapsed:
        return None
    loss_name = "val_loss" if is_validation(name) else "loss"
    loss = ctx.curve(loss_name)
    if loss is None:
        return None
    during = loss.values[(loss.epochs >= curve.epoch(start)) & (loss.epochs <= curve.epoch(-1))]
    if during.shape[0] < 2:
        return None
    level = max(float(np.median(np.abs(during))), 1e-12)
    moved = float(np.ptp(during)) / level
    if moved <= LOSS_MOVES:
        return None
    evidence: dict[str, float | int | str | bool | None] = {
        "metric": name,
        "frozen_value": value,
        "frozen_since_epoch": curve.epoch(start),
        "frozen_epochs": frozen,
        "frozen_tolerance": FROZEN_TOLERANCE,
        "best_before_freeze": best_before,
        "loss_metric": loss_name,
        "loss_first_in_freeze": float(during[0]),
        "loss_last_in_freeze": float(during[-1]),
        "loss_relative_range": moved,
        "loss_moves_threshold": LOSS_MOVES,
        "num_classes": ctx.classes.count,
    }
    how = "after a collapse from " + f"{best_before:.4g}" if collapsed else "from the start"
    return Finding(
        kind=FindingKind.MAJORITY_CLASS,
        severity=Severity.ERROR,
        metric=name,
        epoch_start=curve.epoch(start),
        epoch_end=curve.epoch(-1),
        summary=(
            f"{name} frozen at {value:.6g} for {frozen} epochs ({how}) while {loss_name} moved"
            f" {moved:.1%}: the model predicts one class for every example"
        ),
        evidence=evidence,
    )


def detect(ctx: Context) -> Finding | None:
    """The validation accuracy first, then the training accuracy."""
    for name in ("val_accuracy", "accuracy"):
        if ctx.has(name):
            finding = _check(ctx, name)
            if finding is not None:
                return finding
    return None
