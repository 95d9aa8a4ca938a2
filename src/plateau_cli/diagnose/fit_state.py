"""What kind of stall: underfitting, converged, or a plain plateau (with or without a gap).

Once the monitored metric has stalled (plateau.py), the training loss and its gap to the
validation loss say why, both measured against the reference loss R (ln C for a classifier,
else the first training loss) at the end of the run (median of the last 3 epochs):

| training loss / R  | gap / R      | kind           | what it means                          |
|--------------------|--------------|----------------|----------------------------------------|
| >= HIGH_LOSS       | < SMALL_GAP  | `underfitting` | cannot fit even the training data      |
| <= LOW_LOSS        | < SMALL_GAP  | `converged`    | fits both; more epochs will not help   |
| < HIGH_LOSS        | >= SMALL_GAP | `plateau`, gap | fits training, not validation: augment |
| anything else      |              | `plateau`      | stuck at a moderate loss: lr-decay     |

Without a training loss only the monitored level is known: `plateau` with no split.
"""

from __future__ import annotations

import numpy as np

from plateau_cli.diagnose.base import Finding, FindingKind, Severity
from plateau_cli.diagnose.context import TRAIN_LOSS, VAL_LOSS, Context
from plateau_cli.diagnose.plateau import Stall
from plateau_cli.diagnose.series import common_positions, tail_level, trend

HIGH_LOSS = 0.35
LOW_LOSS = 0.05
SMALL_GAP = 0.05
#: A stalled metric whose epoch-to-epoch noise is at least this share of its level is bouncing,
#: not resting: steps too large to settle (the recommendation is lr-decay whatever the gap).
NOISY_PLATEAU = 0.1


def classify(ctx: Context, stall: Stall) -> Finding:
    evidence: dict[str, float | int | str | bool | None] = dict(
        stall.evidence(ctx.patience, ctx.options.min_delta)
    )
    train, val = ctx.curve(TRAIN_LOSS), ctx.curve(VAL_LOSS)
    reference = ctx.reference_loss
    kind = FindingKind.PLATEAU
    detail = ""
    monitored = ctx.curve(stall.metric)
    if monitored is not None and len(monitored):
        level = abs(tail_level(monitored.values))
        if level > 0 and np.isfinite(stall.noise):
            evidence["noise_over_level"] = stall.noise / level
            evidence["noisy_plateau_threshold"] = NOISY_PLATEAU
    if train is not None and len(train) and reference:
        train_level = tail_level(train.values)
        ratio = train_level / reference
        train_trend = trend(train.values[-stall.window :])
        evidence.update(
            {
                "train_loss": train_level,
                "reference_loss": reference,
                "reference": ctx.reference_source,
                "train_loss_over_reference": ratio,
                "train_slope_per_epoch": train_trend.slope,
                "train_slope_t": train_trend.t,
                "high_loss_threshold": HIGH_LOSS,
                "low_loss_threshold": LOW_LOSS,
                "small_gap_threshold": SMALL_GAP,
            }
        )
        gap = None
        if val is not None and len(val):
            common, ti, vi = common_positions(train.epochs, val.epochs)
            if common.size:
                val_level = tail_level(val.values[vi])
                gap = (val_level - tail_level(train.values[ti])) / reference
                evidence.update({"val_loss": val_level, "gap_over_reference": gap})
        small_gap = gap is None or gap < SMALL_GAP
        if ratio >= HIGH_LOSS and small_gap:
            kind = FindingKind.UNDERFITTING
            detail = (
                f"; training loss {train_level:.4g} is still {ratio:.0%} of"
                f" {_reference_words(ctx)}" + ("" if gap is None else " and close to validation")
            )
        elif ratio <= LOW_LOSS and small_gap:
            kind = FindingKind.CONVERGED
            detail = (
                f"; training loss {train_level:.4g} is {ratio:.1%} of {_reference_words(ctx)}"
                + ("" if gap is None else f" with a small gap ({gap:.1%})")
            )
        elif gap is not None and gap >= SMALL_GAP:
            detail = (
                f"; validation loss {evidence['val_loss']:.4g} stays above training's"
                f" {train_level:.4g}"
            )
        else:
            detail = f"; training loss {train_level:.4g} is {ratio:.0%} of {_reference_words(ctx)}"
    severity = Severity.INFO if kind is FindingKind.CONVERGED else Severity.WARNING
    best = f"best {stall.best_value:.4g} at epoch {stall.best_epoch}"
    since, best_epoch = stall.since_epoch, stall.best_epoch
    if since is not None and best_epoch is not None and best_epoch > since:
        best = f"best {stall.best_value:.4g} at epoch {stall.best_epoch} did not last"
    summary = (
        f"{stall.metric} has not improved for {stall.wait} epochs since epoch"
        f" {stall.since_epoch} (patience {ctx.patience}); {best}{detail}"
    )
    return Finding(
        kind=kind,
        severity=severity,
        metric=stall.metric,
        epoch_start=stall.since_epoch,
        epoch_end=_last_epoch(ctx, stall.metric),
        summary=summary,
        evidence=evidence,
    )


def _reference_words(ctx: Context) -> str:
    if ctx.classes.known and ctx.reference_source.startswith("ln("):
        return f"chance ln({ctx.classes.count}) = {ctx.reference_loss:.4g}"
    return f"the first loss {ctx.reference_loss:.4g}"


def _last_epoch(ctx: Context, name: str) -> int | None:
    curve = ctx.curve(name)
    return None if curve is None or not len(curve) else curve.epoch(-1)
