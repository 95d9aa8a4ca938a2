"""A plateau far from a good fit: accuracy flat for many epochs at a level well short of 1.

The loss-based stall rule can miss a run whose losses still creep down by a noise-sized amount
every epoch while its accuracies sit still (53 % and 42 % for twenty epochs). That is not
"healthy, still improving". Rule: an accuracy (validation first) whose last WINDOW epochs
(at least 2 x patience) move less than SPREAD in total, at a level below GOOD_FIT.
"""

from __future__ import annotations

import numpy as np

from plateau_cli.diagnose.base import Finding, FindingKind, Severity
from plateau_cli.diagnose.context import Context

GOOD_FIT = 0.7
SPREAD = 0.02
MIN_WINDOW = 10


def detect(ctx: Context) -> Finding | None:
    for name in ("val_accuracy", "accuracy"):
        curve = ctx.curve(name)
        window = max(MIN_WINDOW, 2 * ctx.patience)
        if curve is None or len(curve) < window + 2:
            continue
        tail = curve.values[-window:]
        level = float(np.median(tail))
        if not 0.0 <= level < GOOD_FIT or float(np.ptp(tail)) >= SPREAD:
            continue
        chance = ctx.classes.chance_accuracy
        if chance is not None and level <= chance * 1.2:
            continue  # at chance: the chance-level detector's business
        return Finding(
            kind=FindingKind.PLATEAU,
            severity=Severity.WARNING,
            metric=name,
            epoch_start=curve.epoch(-window),
            epoch_end=curve.epoch(-1),
            summary=(
                f"{name} has sat at {level:.1%} (within {float(np.ptp(tail)):.1%}) for the last"
                f" {window} epochs: a plateau far from a good fit"
            ),
            evidence={
                "metric": name,
                "route": "flat accuracy",
                "level": level,
                "spread": float(np.ptp(tail)),
                "window": window,
                "good_fit": GOOD_FIT,
            },
        )
    return None
