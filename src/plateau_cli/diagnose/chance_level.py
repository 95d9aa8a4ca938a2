"""Chance-level accuracy: the model ends no better than guessing, 1/C.

Rule: the accuracy (validation when logged, else training) over the last max(3, patience)
epochs has a median within TOLERANCE of 1/C, where TOLERANCE is RELATIVE_TOLERANCE x 1/C
clipped to [MIN_TOLERANCE, MAX_TOLERANCE] (0.08-0.12 for 10 classes, 0.45-0.55 for 2).
Needs C (see classes.py); without it the detector stays silent and no-learning says why.
"""

from __future__ import annotations

import numpy as np

from plateau_cli.diagnose.base import Finding, FindingKind, Severity
from plateau_cli.diagnose.context import Context

RELATIVE_TOLERANCE = 0.2
MIN_TOLERANCE = 0.01
MAX_TOLERANCE = 0.05
MIN_EPOCHS = 3


def tolerance(chance: float) -> float:
    return min(MAX_TOLERANCE, max(MIN_TOLERANCE, RELATIVE_TOLERANCE * chance))


def detect(ctx: Context) -> Finding | None:
    name = ctx.accuracy
    chance = ctx.classes.chance_accuracy
    curve = ctx.curve(name) if name else None
    if name is None or chance is None or curve is None or len(curve) < MIN_EPOCHS:
        return None
    window = min(len(curve), max(MIN_EPOCHS, ctx.patience))
    level = float(np.median(curve.values[-window:]))
    tol = tolerance(chance)
    if abs(level - chance) > tol:
        return None
    best_pos = int(np.argmax(curve.values))
    evidence: dict[str, float | int | str | bool | None] = {
        "metric": name,
        "accuracy": level,
        "window": window,
        "num_classes": ctx.classes.count,
        "num_classes_source": ctx.classes.source,
        "chance_accuracy": chance,
        "tolerance": tol,
        "best_accuracy": float(curve.values[best_pos]),
        "best_epoch": curve.epoch(best_pos),
    }
    return Finding(
        kind=FindingKind.CHANCE_LEVEL,
        severity=Severity.ERROR,
        metric=name,
        epoch_start=curve.epoch(-window),
        epoch_end=curve.epoch(-1),
        summary=(
            f"{name} {level:.4g} over the last {window} epochs is chance level for"
            f" {ctx.classes.count} classes (1/{ctx.classes.count} = {chance:.4g})"
        ),
        evidence=evidence,
    )
