"""The range test's arithmetic, framework-free: the rates to try, smoothing, the pick.

As fastai's `lr_find`: the rate grows exponentially from batch to batch, the recorded loss is
smoothed with a bias-corrected exponential moving average (beta 0.98), and the test stops once
the smoothed loss exceeds 4x its best (past that point the curve says nothing more).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from plateau_cli.strategies.lr_find.options import Pick

BETA = 0.98
DIVERGED = 4.0


def rates(start: float, end: float, steps: int) -> list[float]:
    """`steps` rates from `start` to `end`, evenly spaced in log(lr)."""
    ratio = (end / start) ** (1.0 / (steps - 1))
    return [start * ratio**i for i in range(steps)]


def smooth(losses: Sequence[float], beta: float = BETA) -> list[float]:
    out, average = [], 0.0
    for i, loss in enumerate(losses, start=1):
        average = beta * average + (1 - beta) * loss
        out.append(average / (1 - beta**i))
    return out


def should_stop(smoothed: Sequence[float], loss: float) -> bool:
    """Stop at a non-finite loss, or when the smoothed loss has run away from its best."""
    if not math.isfinite(loss):
        return True
    return len(smoothed) > 5 and smoothed[-1] > DIVERGED * min(smoothed)


@dataclass(frozen=True)
class Suggestion:
    lr: float
    #: The rate at the smoothed loss's minimum, and that minimum.
    min_lr: float
    min_loss: float
    why: str


def suggest(lrs: Sequence[float], smoothed: Sequence[float], pick: Pick) -> Suggestion | None:
    """The new rate from the curve, or None when the loss never fell below where it started
    (the curve is flat or rises at once: no rate in the range helps)."""
    n = min(len(lrs), len(smoothed))
    if n < 5:
        return None
    lrs, smoothed = list(lrs[:n]), list(smoothed[:n])
    best = min(range(n), key=lambda i: smoothed[i])
    start = smoothed[0]
    if not smoothed[best] < start - 1e-3 * max(abs(start), 1e-12):
        return None
    if pick is Pick.MIN10:
        return Suggestion(
            lrs[best] / 10,
            lrs[best],
            smoothed[best],
            f"the smoothed loss is lowest at lr {lrs[best]:.3g}; a tenth of that stays clear of"
            " the divergence beyond it",
        )
    slopes = [
        (smoothed[i + 1] - smoothed[i]) / (math.log(lrs[i + 1]) - math.log(lrs[i]))
        for i in range(best)
    ]
    steep = min(range(len(slopes)), key=lambda i: slopes[i]) if slopes else best
    return Suggestion(
        lrs[steep],
        lrs[best],
        smoothed[best],
        f"the smoothed loss falls fastest at lr {lrs[steep]:.3g} (lowest at {lrs[best]:.3g})",
    )
