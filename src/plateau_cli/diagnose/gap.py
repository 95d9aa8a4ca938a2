"""A validation loss many times the training loss is overfitting even without a turn-up.

The turn-up rule (overfitting.py) needs a validation loss that worsened after its best; a run
that memorised its training set from the start (0.01 training, 0.66 validation: 66x) may never
show one. Rule: at the end (median of the last TAIL epochs) val_loss / loss >= RATIO and
val_loss - loss >= MIN_GAP x the loss scale (so two tiny losses do not count).
"""

from __future__ import annotations

import numpy as np

from plateau_cli.diagnose.base import Finding, FindingKind, Severity
from plateau_cli.diagnose.context import TRAIN_LOSS, VAL_LOSS, Context

RATIO = 10.0
MIN_GAP = 0.1
TAIL = 3


def detect(ctx: Context) -> Finding | None:
    train, val = ctx.curve(TRAIN_LOSS), ctx.curve(VAL_LOSS)
    if train is None or val is None or len(train) < TAIL or len(val) < TAIL:
        return None
    t = float(np.median(train.values[-TAIL:]))
    v = float(np.median(val.values[-TAIL:]))
    if t <= 0 or v < RATIO * t or v - t < MIN_GAP * ctx.scale(VAL_LOSS):
        return None
    return Finding(
        kind=FindingKind.OVERFITTING,
        severity=Severity.WARNING,
        metric=VAL_LOSS,
        epoch_start=val.epoch(-TAIL),
        epoch_end=val.epoch(-1),
        summary=(
            f"val_loss ends at {v:.4g}, {v / t:.0f}x the training loss ({t:.4g}): the model"
            " fits its training data far better than anything it has not seen"
        ),
        evidence={
            "metric": VAL_LOSS,
            "route": "val/train loss ratio",
            "train_level": t,
            "train_last": float(train.values[-1]),
            "train_scale": ctx.scale(TRAIN_LOSS),
            "val_level": v,
            "ratio": v / t,
            "ratio_threshold": RATIO,
            "best_epoch": val.epoch(int(np.argmin(val.values))),
            "best_value": float(val.values.min()),
        },
    )
