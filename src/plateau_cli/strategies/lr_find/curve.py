"""The range test's arithmetic, framework-free: the rates to try, smoothing, the pick.

As fastai's `lr_find`: the rate grows exponentially from batch to batch, the recorded loss is
smoothed with a bias-corrected exponential moving average (beta 0.98), and the test stops once
the smoothed loss exceeds 4x its best (past that point the curve says nothing more).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from plateau_cli.strategies.lr_find.options import Pick

BETA = 0.98
DIVERGED = 4.0
REFERENCE_STEP = 9
#: The smallest fall of the smoothed loss, relative to the reference, that counts.
MIN_DROP = 0.01
#: The running median's window (batches), and how far below the reference its minimum must
#: fall for the median fallback to count (a share of the reference: at least halved).
MEDIAN_WINDOW = 5
MEDIAN_FALL = 0.5


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


def suggest(
    lrs: Sequence[float],
    smoothed: Sequence[float],
    pick: Pick,
    losses: Sequence[float] | None = None,
) -> Suggestion | None:
    """The new rate from the curve, or None when the loss never fell clearly below where it
    started (the curve is flat, or rises at once: no rate in the range helps).

    "Clearly": by more than MIN_DROP of the reference and three times the noise of that
    difference (from the batch losses' spread over the first steps), so a flat, noisy curve
    does not send the rate to a random point."""
    n = min(len(lrs), len(smoothed))
    if n < 5:
        return None
    lrs, smoothed = list(lrs[:n]), list(smoothed[:n])
    # The reference is the smoothed loss after ~10 batches (the first point alone is one noisy
    # batch); a minimum before it is noise, not a rate.
    ref = min(REFERENCE_STEP, n - 1)
    best = min(range(ref, n), key=lambda i: smoothed[i])
    start = smoothed[ref]
    noise = 0.0
    if losses is not None and len(losses) > 2:
        head = [v for v in losses[: ref + 11] if math.isfinite(v)]
        spread = float(statistics.pstdev(head)) if len(head) > 1 else 0.0
        # the reference is about a mean of ref+1 batches; the minimum an EMA point
        noise = spread * math.sqrt(1 / (ref + 1) + (1 - BETA) / (1 + BETA))
    if not smoothed[best] < start - max(MIN_DROP * abs(start), 3 * noise):
        return _median_fallback(lrs, losses, pick)
    return _pick(lrs, smoothed, best, pick, "smoothed loss")


def _pick(
    lrs: Sequence[float], curve: Sequence[float], best: int, pick: Pick, what: str
) -> Suggestion:
    if pick is Pick.MIN10:
        return Suggestion(
            lrs[best] / 10,
            lrs[best],
            curve[best],
            f"the {what} is lowest at lr {lrs[best]:.3g}; a tenth of that stays clear of"
            " the divergence beyond it",
        )
    slopes = [
        (curve[i + 1] - curve[i]) / (math.log(lrs[i + 1]) - math.log(lrs[i])) for i in range(best)
    ]
    steep = min(range(len(slopes)), key=lambda i: slopes[i]) if slopes else best
    return Suggestion(
        lrs[steep],
        lrs[best],
        curve[best],
        f"the {what} falls fastest at lr {lrs[steep]:.3g} (lowest at {lrs[best]:.3g})",
    )


def running_median(losses: Sequence[float], window: int = MEDIAN_WINDOW) -> list[float]:
    """The median of each `window` consecutive batch losses, centred (the ends: nan)."""
    half = window // 2
    out = [math.nan] * len(losses)
    for i in range(half, len(losses) - half):
        chunk = [v for v in losses[i - half : i + half + 1] if math.isfinite(v)]
        if len(chunk) == window:
            out[i] = float(statistics.median(chunk))
    return out


def _median_fallback(
    lrs: Sequence[float], losses: Sequence[float] | None, pick: Pick
) -> Suggestion | None:
    """When the loss falls by an order of magnitude within a few batches just before the test
    diverges, the EMA (beta 0.98, ~50 batches of memory) lags too far behind to show the fall,
    and noisy batches at the start make it look like noise: the zoo's unnormalised CNN on
    digits (tune half), batch losses ~43 falling to ~2.5 over six batches, found no rate on one
    seed of three. A running median of the batch losses follows such a fall and ignores single
    outliers; it counts only when its minimum is at most half the median of the first batches
    and below it by three times their spread's noise, so a flat noisy curve still finds nothing.
    """
    if losses is None or len(losses) < REFERENCE_STEP + MEDIAN_WINDOW:
        return None
    n = min(len(lrs), len(losses))
    head = [v for v in losses[: REFERENCE_STEP + 1] if math.isfinite(v)]
    if len(head) < 3:
        return None
    start = float(statistics.median(head))
    spread = float(statistics.pstdev(head))
    median = running_median(losses[:n])
    points = [i for i in range(REFERENCE_STEP, n) if math.isfinite(median[i])]
    if not points or start <= 0:
        return None
    best = min(points, key=lambda i: median[i])
    # the reference is a median of ~10 batches, the minimum a median of MEDIAN_WINDOW
    noise = spread * math.sqrt(1 / len(head) + 1 / MEDIAN_WINDOW)
    if not (median[best] <= MEDIAN_FALL * start and median[best] < start - 3 * noise):
        return None
    return _pick(lrs, median, best, pick, f"running median of {MEDIAN_WINDOW} batch losses")
