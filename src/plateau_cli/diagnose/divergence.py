"""Divergence: the loss became NaN/inf, or exploded and never came back.

Rule, per loss-like metric (training loss, validation loss, the monitored metric):

- non-finite: the first epoch whose value is NaN or ±inf;
- explosion (positive losses only): the first epoch t whose value exceeds both the first value
  and EXPLOSION_FACTOR x the best value before t, reached fast (at least RAPID_FACTOR x the
  value up to RAPID_EPOCHS epochs earlier: overfitting creeps, divergence jumps), and every
  later value stays above RECOVERY_FACTOR x that best (a spike that recovers is oscillation).

The earliest such epoch over all metrics is reported; the epoch to restore is the monitored
metric's best before it.
"""

from __future__ import annotations

import math

import numpy as np

from plateau_cli.diagnose.base import Finding, FindingKind, Severity
from plateau_cli.diagnose.context import TRAIN_LOSS, VAL_LOSS, Context
from plateau_cli.diagnose.series import best_position
from plateau_cli.monitor import Mode

EXPLOSION_FACTOR = 3.0
RAPID_FACTOR = 2.0
RAPID_EPOCHS = 3
RECOVERY_FACTOR = 2.0


def _candidates(ctx: Context) -> list[str]:
    names = [TRAIN_LOSS, VAL_LOSS, ctx.monitor.metric]
    return [n for i, n in enumerate(names) if ctx.has(n) and n not in names[:i]]


def _non_finite(values: np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.isfinite(values))
    return int(bad[0]) if bad.size else None


def _explosion(values: np.ndarray) -> tuple[int, int] | None:
    """(position of the explosion, position of the best value before it), or None."""
    positions = np.flatnonzero(np.isfinite(values))
    v = values[positions]
    if v.shape[0] < 3 or (v <= 0).any():
        return None
    best_before = np.minimum.accumulate(v)[:-1]  # best_before[k - 1] = min(v[:k])
    k = np.arange(1, v.shape[0])
    # recent[j - 1] = min(v[max(0, j - RAPID_EPOCHS) : j]): a sliding minimum, vectorised.
    padded = np.concatenate((np.full(RAPID_EPOCHS - 1, np.inf), v[:-1]))
    recent = np.lib.stride_tricks.sliding_window_view(padded, RAPID_EPOCHS).min(axis=1)
    later_min = np.append(np.minimum.accumulate(v[::-1])[::-1][1:], np.inf)[1:]
    exploded = (
        (v[k] > np.maximum(v[0], EXPLOSION_FACTOR * best_before))
        & (v[k] >= RAPID_FACTOR * recent)
        & (later_min > RECOVERY_FACTOR * best_before)
    )
    hits = np.flatnonzero(exploded)
    if not hits.size:
        return None
    j = int(k[hits[0]])
    return int(positions[j]), int(positions[int(np.argmin(v[:j]))])


def detect(ctx: Context) -> Finding | None:
    events: list[tuple[int, str, str, int]] = []  # (epoch, metric, how, position)
    for name in _candidates(ctx):
        series = ctx.history.epochs[name]
        position = _non_finite(series.values)
        if position is not None:
            events.append((int(series.index[position]), name, "non-finite", position))
        if ctx.mode(name) is Mode.MIN:
            exploded = _explosion(series.values)
            if exploded is not None:
                events.append((int(series.index[exploded[0]]), name, "explosion", exploded[0]))
    if not events:
        return None
    epoch, name, how, position = min(events)
    series = ctx.history.epochs[name]
    value = float(series.values[position])
    before = series.values[:position]
    finite_before = before[np.isfinite(before)]
    evidence: dict[str, float | int | str | bool | None] = {
        "metric": name,
        "epoch": epoch,
        "how": how,
        "value": value,
        "first_value": float(finite_before[0]) if finite_before.size else None,
        "best_before": float(np.min(finite_before)) if finite_before.size else None,
        "explosion_factor": EXPLOSION_FACTOR,
    }
    if how == "explosion" and finite_before.size:
        evidence["factor_over_best"] = value / float(np.min(finite_before))
    restore = _restore_epoch(ctx, epoch)
    evidence["restore_epoch"] = restore
    if restore is not None:
        monitored = ctx.history.epochs[ctx.monitor.metric]
        evidence["restore_value"] = float(monitored.values[monitored.index == restore][0])
    what = "became " + _describe(value) if how == "non-finite" else "exploded"
    summary = f"{name} {what} at epoch {epoch}" + (
        f" after a best of {evidence['best_before']:.4g}"
        if isinstance(evidence["best_before"], float)
        else " from the first epoch"
    )
    return Finding(
        kind=FindingKind.DIVERGENCE,
        severity=Severity.ERROR,
        metric=name,
        epoch_start=epoch,
        epoch_end=int(series.index[-1]),
        summary=summary,
        evidence=evidence,
    )


def _describe(value: float) -> str:
    return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _restore_epoch(ctx: Context, epoch: int) -> int | None:
    """The monitored metric's best epoch before the divergence (what to roll back to)."""
    monitored = ctx.history.epochs[ctx.monitor.metric]
    keep = monitored.index < epoch
    best = best_position(monitored.values[keep], ctx.monitor.mode is Mode.MAX)
    return None if best is None else int(monitored.index[keep][best])
