"""Overfitting: validation worsening while training keeps improving.

Judged on the loss pair (loss, val_loss), else on the monitored validation metric and its
training counterpart. With the validation series smoothed by a running median of 3 (so a
single lucky epoch is neither the best nor the worsening):

- the smoothed best is at least MIN_EPOCHS_AFTER epochs before the end;
- since then validation got worse: its level at the end is worse than the smoothed best by
  more than max(min_delta, WORSE_NOISE x noise), and its Theil–Sen slope after the best points
  the wrong way with |t| >= 2;
- over the same epochs training improved: Theil–Sen slope in the good direction, |t| >= 2.

The finding starts at the raw best validation epoch: the checkpoint to restore.
"""

from __future__ import annotations

import math

import numpy as np

from plateau_cli.diagnose.base import Finding, FindingKind, Severity
from plateau_cli.diagnose.context import TRAIN_LOSS, VAL_LOSS, Context, Curve
from plateau_cli.diagnose.series import (
    best_position,
    common_positions,
    noise_sigma,
    rolling_median,
    tail_level,
    trend,
)
from plateau_cli.monitor import Mode, Monitor
from plateau_cli.names import base_name, is_validation

MIN_EPOCHS_AFTER = 3
WORSE_NOISE = 2.0


def _pair(ctx: Context) -> tuple[str, str] | None:
    if ctx.has(TRAIN_LOSS) and ctx.has(VAL_LOSS):
        return TRAIN_LOSS, VAL_LOSS
    monitored = ctx.monitor.metric
    if is_validation(monitored) and ctx.has(base_name(monitored)):
        return base_name(monitored), monitored
    return None


def _aligned(train: Curve, val: Curve) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    epochs, ti, vi = common_positions(train.epochs, val.epochs)
    return epochs, train.values[ti], val.values[vi]


def detect(ctx: Context) -> Finding | None:
    pair = _pair(ctx)
    if pair is None:
        return None
    train_curve, val_curve = ctx.curve(pair[0]), ctx.curve(pair[1])
    if train_curve is None or val_curve is None:
        return None
    epochs, train, val = _aligned(train_curve, val_curve)
    if epochs.shape[0] < MIN_EPOCHS_AFTER + 3:
        return None
    monitor = Monitor.for_metric(pair[1], min_delta=ctx.options.min_delta)
    sign = 1.0 if monitor.mode is Mode.MIN else -1.0  # +1: larger is worse
    smoothed = rolling_median(val)
    best_s = best_position(smoothed, monitor.mode is Mode.MAX)
    if best_s is None or epochs.shape[0] - 1 - best_s < MIN_EPOCHS_AFTER:
        return None
    after = slice(best_s, None)
    noise = noise_sigma(val)
    worse_by = sign * (tail_level(val) - float(smoothed[best_s]))
    needed = max(ctx.options.min_delta, WORSE_NOISE * noise)
    if not math.isfinite(needed):
        return None  # values so large that their noise overflows: nothing to judge
    # "Worse by more than `needed`" is "the best improves on the end by more than `needed`".
    strict = Monitor.for_metric(pair[1], min_delta=needed, mode=monitor.mode)
    val_trend, train_trend = trend(val[after]), trend(train[after])
    worsening = (
        strict.is_improvement(float(smoothed[best_s]), tail_level(val))
        and sign * val_trend.slope > 0
        and val_trend.significant()
    )
    train_mode = Mode.for_metric(pair[0])
    train_sign = 1.0 if train_mode is Mode.MIN else -1.0
    improving = train_sign * train_trend.slope < 0 and train_trend.significant()
    if not (worsening and improving):
        return None
    best_raw = best_position(val, monitor.mode is Mode.MAX)
    if best_raw is None:
        return None
    best_epoch = int(epochs[best_raw])
    evidence: dict[str, float | int | str | bool | None] = {
        "metric": pair[1],
        "train_metric": pair[0],
        "best_epoch": best_epoch,
        "best_value": float(val[best_raw]),
        "smoothed_best_epoch": int(epochs[best_s]),
        "smoothed_best_value": float(smoothed[best_s]),
        "last_value": float(val[-1]),
        "worse_by": worse_by,
        "worse_threshold": needed,
        "noise": noise,
        "val_slope_after_best": val_trend.slope,
        "val_slope_t": val_trend.t,
        "train_slope_after_best": train_trend.slope,
        "train_slope_t": train_trend.t,
        "gap_at_best": sign * float(val[best_raw] - train[best_raw]),
        "gap_last": sign * float(val[-1] - train[-1]),
        "train_last": float(train[-1]),
        "train_scale": ctx.scale(pair[0]),
        "epochs_since_best": int(epochs[-1]) - best_epoch,
        "smoothing": "running median of 3",
    }
    return Finding(
        kind=FindingKind.OVERFITTING,
        severity=Severity.WARNING,
        metric=pair[1],
        epoch_start=best_epoch,
        epoch_end=int(epochs[-1]),
        summary=(
            f"{pair[1]} worse by {worse_by:.4g} since its best {float(val[best_raw]):.4g} at"
            f" epoch {best_epoch} while {pair[0]} kept improving: overfitting since epoch"
            f" {best_epoch}"
        ),
        evidence=evidence,
    )
