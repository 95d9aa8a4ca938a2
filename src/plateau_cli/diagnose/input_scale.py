"""Unnormalised inputs: a first-epoch classification loss far above chance, ln C.

A freshly initialised classifier fed unit-scale inputs predicts close to the uniform
distribution, so its first-epoch cross-entropy sits near ln C. Inputs at pixel scale (0-255)
or with large offsets give huge logits from the first batch: a first loss of 17 against
ln(10) = 2.3. Rule: the first training (else validation) loss is at least FACTOR x ln C and
ln C + MARGIN when the class count is known, or above UNKNOWN_C_LOSS (more than ln 1000 + 1,
beyond any plausible chance level) when it is not; and the run has an accuracy metric (a
classifier). A run that exploded and then collapsed to chance is divergence, found first.
"""

from __future__ import annotations

import math

from plateau_cli.diagnose.base import Finding, FindingKind, Severity
from plateau_cli.diagnose.context import TRAIN_LOSS, VAL_LOSS, Context

FACTOR = 3.0
MARGIN = 2.0
UNKNOWN_C_LOSS = 8.0


def detect(ctx: Context) -> Finding | None:
    if ctx.accuracy is None:
        return None
    for name in (TRAIN_LOSS, VAL_LOSS):
        curve = ctx.curve(name)
        if curve is None or len(curve) == 0:
            continue
        first = float(curve.values[0])
        chance = ctx.classes.chance_loss
        if chance is not None and chance > 0:
            needed = max(FACTOR * chance, chance + MARGIN)
            against = f"ln({ctx.classes.count}) = {chance:.3g}"
        else:
            needed, against = UNKNOWN_C_LOSS, f"{UNKNOWN_C_LOSS:g} (above any chance level)"
        if not first >= needed or not math.isfinite(first):
            return None
        return Finding(
            kind=FindingKind.UNNORMALIZED_INPUTS,
            severity=Severity.WARNING,
            metric=name,
            epoch_start=curve.epoch(0),
            epoch_end=curve.epoch(0),
            summary=(
                f"the first {name} is {first:.4g} against {against} for an untrained"
                " classifier: the inputs look far from unit scale"
            ),
            evidence={
                "metric": name,
                "first_value": first,
                "chance_loss": chance,
                "threshold": needed,
                "num_classes": ctx.classes.count,
            },
        )
    return None
