"""Has the monitored metric stopped improving? Keras' patience rule, made robust to noise.

Keras' EarlyStopping counts epochs since the raw value last beat the best by `min_delta`: one
lucky epoch resets that count, and it cannot tell a slow steady gain from noise. Here the same
`Monitor` decides what an improvement is, with two changes:

1. an improvement must hold: it is judged on `held()`, the worse of each epoch and the next,
   so it counts only when the following epoch confirms it (a single lucky epoch never does),
   and it is dated to the epoch it happened;
2. it must beat the epoch-to-epoch noise too: the effective min_delta is
   max(--min-delta, NOISE_MULTIPLE x noise), the noise measured over the last
   max(MIN_WINDOW, WINDOW_PATIENCES x patience) epochs.

The metric has *stalled* when that robust wait reaches `patience` AND the stretch since the
last robust improvement shows no steady gain either: its Theil–Sen slope is not a significant
improvement (t < 2 against the noise), or it is too small to add up to --min-delta within
`patience` epochs. A slow steady gain never beats the noise in one step but shows as a
significant slope over the stretch, and the longer the stretch the surer: that is not a
plateau. Keras' own raw wait is reported beside the robust one, so users can compare.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from plateau_cli.diagnose.context import Context
from plateau_cli.diagnose.series import (
    SIGNIFICANT_T,
    Trend,
    best_position,
    held,
    improvement_positions,
    noise_sigma,
    trend,
    wait_after,
)
from plateau_cli.monitor import Mode

#: Epochs the noise is measured over: max(MIN_WINDOW, WINDOW_PATIENCES x patience).
MIN_WINDOW = 20
WINDOW_PATIENCES = 2
#: An improvement must beat the best by this many noise sigmas (and by --min-delta).
NOISE_MULTIPLE = 2.0
#: The trend is taken over at least this many epochs (more when the stretch is longer).
TREND_MIN_EPOCHS = 10

SMOOTHING = "improvement must hold for 2 epochs (judged on the worse of each epoch and the next)"


@dataclass(frozen=True)
class Stall:
    """Everything the plateau rule measured on the monitored metric."""

    metric: str
    mode: Mode
    epochs_seen: int
    enough_epochs: bool
    stalled: bool
    keras_wait: int
    wait: int
    noise: float
    effective_min_delta: float
    window: int
    trend: Trend
    stretch_trend: Trend
    improving: bool
    best_epoch: int | None
    best_value: float | None
    last_value: float | None
    #: The epoch of the last robust improvement: the plateau starts after it.
    since_epoch: int | None

    def evidence(
        self, patience: int, min_delta: float
    ) -> dict[str, float | int | str | bool | None]:
        return {
            "metric": self.metric,
            "mode": self.mode.value,
            "patience": patience,
            "min_delta": min_delta,
            "keras_wait": self.keras_wait,
            "robust_wait": self.wait,
            "smoothing": SMOOTHING,
            "noise": self.noise,
            "effective_min_delta": self.effective_min_delta,
            "window": self.window,
            "slope_per_epoch": self.trend.slope,
            "slope_t": self.trend.t,
            "stretch_slope_per_epoch": self.stretch_trend.slope,
            "stretch_slope_t": self.stretch_trend.t,
            "best_epoch": self.best_epoch,
            "best_value": self.best_value,
            "last_value": self.last_value,
            "plateau_since_epoch": self.since_epoch if self.stalled else None,
        }


def analyse(ctx: Context) -> Stall:
    name = ctx.monitor.metric
    curve = ctx.curve(name)
    mode = ctx.monitor.mode
    patience, min_delta = ctx.patience, ctx.options.min_delta
    if curve is None or len(curve) == 0:
        flat = Trend(0.0, 0.0, 0)
        return Stall(
            metric=name,
            mode=mode,
            epochs_seen=0,
            enough_epochs=False,
            stalled=False,
            keras_wait=0,
            wait=0,
            noise=0.0,
            effective_min_delta=min_delta,
            window=0,
            trend=flat,
            stretch_trend=flat,
            improving=False,
            best_epoch=None,
            best_value=None,
            last_value=None,
            since_epoch=None,
        )
    values = curve.values
    n = len(curve)
    noise = noise_sigma(values[-min(n, max(MIN_WINDOW, WINDOW_PATIENCES * patience)) :])
    effective = _finite(max(min_delta, NOISE_MULTIPLE * noise))
    higher = mode is Mode.MAX
    confirmed = held(values, higher)
    improvements = improvement_positions(confirmed, higher, effective)
    wait = n if not improvements else n - 1 - improvements[-1]
    # The trend over at least TREND_MIN_EPOCHS (and the whole stretch since the last robust
    # improvement); the stretch alone must not be significantly flatter (a stall after a drop).
    window = min(n, max(wait + 1, patience + 1, TREND_MIN_EPOCHS))
    window_trend = trend(values[-window:], noise=noise)
    stretch_trend = trend(values[-(wait + 1) :], noise=noise)
    sign = -1.0 if mode is Mode.MIN else 1.0  # sign x slope > 0: improving
    gain = sign * window_trend.slope
    shortfall = gain - sign * stretch_trend.slope
    se = stretch_trend.stderr
    flatter = shortfall > 0 and (se == 0 or shortfall / se >= SIGNIFICANT_T)
    improving = (
        gain > 0
        and window_trend.significant()
        and not flatter
        and gain * patience > max(min_delta, noise)
    )
    best = best_position(values, higher)
    enough = n > patience
    return Stall(
        metric=name,
        mode=mode,
        epochs_seen=n,
        enough_epochs=enough,
        stalled=enough and wait >= patience and not improving,
        keras_wait=wait_after(values, higher, min_delta),
        wait=wait,
        noise=noise,
        effective_min_delta=effective,
        window=window,
        trend=window_trend,
        stretch_trend=stretch_trend,
        improving=improving,
        best_epoch=None if best is None else curve.epoch(best),
        best_value=None if best is None else float(values[best]),
        last_value=float(values[-1]),
        since_epoch=curve.epoch(improvements[-1]) if improvements else curve.epoch(0),
    )


def _finite(value: float) -> float:
    """Absurd logged values (1e308) can make the noise overflow; cap it at the largest float."""
    return value if math.isfinite(value) else sys.float_info.max
