"""Slow convergence: steady but tiny gains, the mark of a learning rate that is too low.

A healthy run gains fast at first and slowly later; a run with too low a learning rate gains
about as little at the end as at the start. Rule, on the monitored metric when it has not
stalled (plateau.py), over at least MIN_EPOCHS epochs:

- the Theil–Sen slope of the second half of the run is a significant improvement (t >= 2);
- it is at least STEADY x the slope of the first half (the gains do not slow down as they
  would on a normal curve), and
- it is below TINY of the metric's scale per epoch (ln C or the first loss for a loss, 1 for
  an accuracy).
"""

from __future__ import annotations

from plateau_cli.diagnose.base import Finding, FindingKind, Severity
from plateau_cli.diagnose.context import Context
from plateau_cli.diagnose.plateau import Stall
from plateau_cli.diagnose.series import theil_sen, trend
from plateau_cli.monitor import Mode

MIN_EPOCHS = 10
STEADY = 0.5
TINY = 0.01


def detect(ctx: Context, stall: Stall) -> Finding | None:
    curve = ctx.curve(stall.metric)
    if curve is None or len(curve) < MIN_EPOCHS or stall.stalled:
        return None
    sign = -1.0 if stall.mode is Mode.MIN else 1.0  # sign x slope > 0: improving
    half = len(curve) // 2
    first = sign * theil_sen(curve.values[:half])
    late = trend(curve.values[half:])
    second = sign * late.slope
    scale = ctx.scale(stall.metric)
    relative = second / scale
    if second <= 0 or not late.significant() or relative >= TINY:
        return None
    ratio = second / first if first > 0 else None
    if ratio is not None and ratio < STEADY:
        return None
    evidence: dict[str, float | int | str | bool | None] = {
        "metric": stall.metric,
        "slope_first_half": sign * first,
        "slope_second_half": sign * second,
        "second_over_first": ratio,
        "steady_threshold": STEADY,
        "gain_per_epoch_over_scale": relative,
        "tiny_threshold": TINY,
        "scale": scale,
        "second_half_slope_t": late.t,
        "epochs_for_another_10pct": 0.1 * scale / second,
    }
    return Finding(
        kind=FindingKind.SLOW_CONVERGENCE,
        severity=Severity.WARNING,
        metric=stall.metric,
        epoch_start=curve.epoch(0),
        epoch_end=curve.epoch(-1),
        summary=(
            f"{stall.metric} improves steadily but slowly: {relative:.2%} of {scale:.4g} per"
            f" epoch, as fast at the end as at the start; the learning rate looks too low"
        ),
        evidence=evidence,
    )
