"""No learning: the loss is flat from the start, or never got below chance.

Judged on the training loss (else the validation loss, else a monitored loss), over at least
MIN_EPOCHS epochs:

- flat from the start: the best smoothed loss (running median of 3) is less than FLAT of the
  reference loss below the first epoch's loss (for a classifier, only while that loss is still
  above STILL_HIGH x ln C: a fine-tuned model that starts low and stays low has converged);
- stuck at chance (classifiers, C known): the best smoothed loss never went below
  AT_CHANCE x ln C. A model that predicts the uniform distribution scores exactly ln C, so a
  loss that never beats it has learned nothing from the inputs.

Evidence keeps the chance level it compared with, or says the number of classes is unknown.
"""

from __future__ import annotations

import numpy as np

from plateau_cli.diagnose.base import Finding, FindingKind, Severity
from plateau_cli.diagnose.context import TRAIN_LOSS, VAL_LOSS, Context
from plateau_cli.diagnose.series import rolling_median, trend
from plateau_cli.monitor import Mode

MIN_EPOCHS = 5
FLAT = 0.02
STILL_HIGH = 0.5
AT_CHANCE = 0.97
#: A loss whose whole range is below this (relative) did not move at all.
CONSTANT = 1e-6


def loss_metric(ctx: Context) -> str | None:
    """The series that shows learning best: the training loss, else a validation loss."""
    for name in (TRAIN_LOSS, VAL_LOSS):
        if ctx.has(name):
            return name
    if ctx.mode(ctx.monitor.metric) is Mode.MIN:
        return ctx.monitor.metric
    return None


def is_classifier(ctx: Context) -> bool:
    return ctx.classes.known and (ctx.classes.source == "--num-classes" or ctx.accuracy is not None)


def detect(ctx: Context) -> Finding | None:
    name = loss_metric(ctx)
    curve = ctx.curve(name) if name else None
    if name is None or curve is None or len(curve) < MIN_EPOCHS or ctx.reference_loss is None:
        return None
    values = curve.values
    smoothed = rolling_median(values)
    first, best, last = float(values[0]), float(smoothed.min()), float(values[-1])
    improvement = (first - best) / ctx.reference_loss
    chance = ctx.classes.chance_loss if is_classifier(ctx) else None
    flat = improvement < FLAT and (chance is None or best >= STILL_HIGH * chance)
    at_chance = chance is not None and best >= AT_CHANCE * chance
    if not (flat or at_chance):
        return None
    slope = trend(values)
    level = max(1.0, float(np.median(np.abs(values))))
    evidence: dict[str, float | int | str | bool | None] = {
        "metric": name,
        "first": first,
        "best_smoothed": best,
        "last": last,
        "relative_improvement": improvement,
        "flat_threshold": FLAT,
        "reference_loss": ctx.reference_loss,
        "num_classes": ctx.classes.count,
        "num_classes_source": ctx.classes.source,
        "chance_loss": chance,
        "best_over_chance": best / chance if chance else None,
        "at_chance_threshold": AT_CHANCE if chance else None,
        "slope_per_epoch": slope.slope,
        "slope_t": slope.t,
        "improving_significantly": slope.significant() and slope.slope < 0,
        "constant": float(np.ptp(values)) <= CONSTANT * level,
        "smoothing": "running median of 3",
    }
    if at_chance and chance is not None:
        summary = (
            f"{name} never went below chance: best {best:.4g} vs ln({ctx.classes.count})"
            f" = {chance:.4g}; the model learned nothing from the inputs"
        )
    else:
        summary = (
            f"{name} flat from the start: {first:.4g} -> best {best:.4g} in {len(curve)} epochs"
            f" ({improvement:.1%} of {ctx.reference_loss:.4g})"
        )
        if chance is None:
            summary += "; number of classes unknown, so no comparison with chance"
    return Finding(
        kind=FindingKind.NO_LEARNING,
        severity=Severity.ERROR,
        metric=name,
        epoch_start=curve.epoch(0),
        epoch_end=curve.epoch(-1),
        summary=summary,
        evidence=evidence,
    )
