"""Improper loss: a loss that goes negative and keeps falling is not a loss for these targets.

Cross-entropy, MSE and their kin are bounded below by 0, so a training loss that falls below 0
and keeps going (-3e4 ... -1.3e8) means the loss does not fit the targets (labels outside
[0, 1] for a binary cross-entropy, a sign error, a likelihood without its normaliser): every
"improvement" is the model exploiting that. Rule, on the training loss (else validation loss):
the last value is below -NEGATIVE_FLOOR and is the lowest or within 1 % of it, or the loss went
below 0 and its magnitude grew at least GROWTH times while negative.
"""

from __future__ import annotations

import numpy as np

from plateau_cli.diagnose.base import Finding, FindingKind, Severity
from plateau_cli.diagnose.context import TRAIN_LOSS, VAL_LOSS, Context

NEGATIVE_FLOOR = 1.0
GROWTH = 10.0


def detect(ctx: Context) -> Finding | None:
    for name in (TRAIN_LOSS, VAL_LOSS):
        curve = ctx.curve(name)
        if curve is None or len(curve) < 2:
            continue
        v = curve.values
        negative = np.flatnonzero(v < 0)
        if not negative.size:
            continue
        low, last = float(v.min()), float(v[-1])
        first_negative = float(v[negative[0]])
        still_falling = last <= low * 0.99 or last == low
        grew = abs(low) >= GROWTH * max(abs(first_negative), 1e-12) and negative.size >= 2
        if not ((last < -NEGATIVE_FLOOR and still_falling) or grew):
            continue
        return Finding(
            kind=FindingKind.IMPROPER_LOSS,
            severity=Severity.ERROR,
            metric=name,
            epoch_start=curve.epoch(int(negative[0])),
            epoch_end=curve.epoch(-1),
            summary=(
                f"{name} is negative from epoch {curve.epoch(int(negative[0]))} and falls"
                f" without bound ({first_negative:.4g} ... {low:.4g}): a proper loss for the"
                " targets cannot go below 0, so the loss or the labels are wrong"
            ),
            evidence={
                "metric": name,
                "first_negative_epoch": curve.epoch(int(negative[0])),
                "first_negative_value": first_negative,
                "lowest_value": low,
                "last_value": last,
                "negative_floor": NEGATIVE_FLOOR,
                "growth_threshold": GROWTH,
            },
        )
    return None
