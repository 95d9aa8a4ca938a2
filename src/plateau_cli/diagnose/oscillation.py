"""Oscillation: large up-and-down swings, the mark of a learning rate that is too high.

Checked on the training and validation losses (else on the monitored metric). A *swing* is a
turning point (the differences before and after it have opposite signs) whose smaller side is
large: at least REL_AMPLITUDE of the local level (centred running median of 5) and at least
SCALE_AMPLITUDE of the metric's scale (ln C or the first loss), so the jitter of a loss near
zero or of a noisy but improving curve does not count. An oscillation is MIN_SWINGS or more
swings that make up at least MIN_DENSITY of the epochs between the first and the last one.
Its start and end epochs let the recommendation notice an oscillation followed by a plateau.
"""

from __future__ import annotations

import numpy as np

from plateau_cli.diagnose.base import Finding, FindingKind, Severity
from plateau_cli.diagnose.context import TRAIN_LOSS, VAL_LOSS, Context
from plateau_cli.diagnose.series import centered_median

REL_AMPLITUDE = 0.15
SCALE_AMPLITUDE = 0.02
MIN_SWINGS = 4
MIN_DENSITY = 0.5
#: The oscillation is "ongoing" when its last swing is this close to the end.
ONGOING_EPOCHS = 3


def _candidates(ctx: Context) -> list[str]:
    names = [n for n in (TRAIN_LOSS, VAL_LOSS) if ctx.has(n)]
    return names or [ctx.monitor.metric]


Measured = tuple[int, int, dict[str, float | int | str | bool | None]]


def _measure(ctx: Context, name: str) -> Measured | None:
    """(first swing epoch, last swing epoch, evidence), or None without an oscillation."""
    curve = ctx.curve(name)
    if curve is None or len(curve) < MIN_SWINGS + 2:
        return None
    x = curve.values
    d = np.diff(x)
    turning = d[:-1] * d[1:] < 0  # turning[i]: x[i + 1] is a peak or a trough
    amplitude = np.minimum(np.abs(d[:-1]), np.abs(d[1:]))
    level = np.abs(centered_median(x))[1:-1]
    scale = ctx.scale(name)
    needed = np.maximum(REL_AMPLITUDE * level, SCALE_AMPLITUDE * scale)
    swings = np.flatnonzero(turning & (amplitude >= needed)) + 1  # positions in x
    if swings.size < MIN_SWINGS:
        return None
    span = int(swings[-1] - swings[0] + 1)
    density = swings.size / span
    if density < MIN_DENSITY:
        return None
    inside = slice(int(swings[0]) - 1, int(swings[-1]) + 2)
    d_in = np.diff(x[inside])
    sign_changes = float(np.mean(d_in[:-1] * d_in[1:] < 0)) if d_in.size > 1 else 0.0
    amp = float(np.median(amplitude[swings - 1]))
    lvl = float(np.median(np.abs(x[inside])))
    evidence: dict[str, float | int | str | bool | None] = {
        "metric": name,
        "swings": int(swings.size),
        "span_epochs": span,
        "swing_density": density,
        "sign_change_fraction": sign_changes,
        "median_amplitude": amp,
        "relative_amplitude": amp / lvl if lvl > 0 else None,
        "amplitude_over_scale": amp / scale,
        "rel_amplitude_threshold": REL_AMPLITUDE,
        "scale_amplitude_threshold": SCALE_AMPLITUDE,
        "scale": scale,
        "ongoing": len(curve) - 1 - int(swings[-1]) < ONGOING_EPOCHS,
    }
    return curve.epoch(int(swings[0])), curve.epoch(int(swings[-1])), evidence


def detect(ctx: Context) -> Finding | None:
    measured = [m for m in (_measure(ctx, n) for n in _candidates(ctx)) if m is not None]
    if not measured:
        return None
    start, end, worst = max(
        measured, key=lambda m: (int(m[2]["swings"] or 0), float(m[2]["median_amplitude"] or 0))
    )
    rel = worst["relative_amplitude"]
    size = f" ({rel:.0%} of its level)" if isinstance(rel, float) else ""
    return Finding(
        kind=FindingKind.OSCILLATION,
        severity=Severity.WARNING,
        metric=str(worst["metric"]),
        epoch_start=start,
        epoch_end=end,
        summary=(
            f"{worst['metric']} swings up and down {worst['swings']} times between epochs"
            f" {start} and {end}, by {float(worst['median_amplitude'] or 0):.4g}{size}:"
            " the learning rate looks too high"
        ),
        evidence=worst,
    )
