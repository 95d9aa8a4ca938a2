"""Explosion then collapse: a loss that blows up early and then sits at chance is divergence.

A learning rate far too high can throw the loss to 1e11 in the first epoch; the updates kill
the units (every ReLU dead, or saturated logits), and the loss then sits at ln C with a frozen
accuracy. Read alone, the flat end looks like no-learning, whose advice (raise the rate) is the
opposite of the cure. Rule, on the training loss (else validation loss): its peak within the
first EARLY epochs is at least PEAK_FACTOR x the level of its last TAIL epochs; from two epochs
after the peak the loss never strays by more than that level (AFTER_SPREAD), and its last TAIL
epochs are flat (spread below FLAT of the level), at a level within CHANCE_BAND of ln C when C
is known, or with an accuracy frozen (spread below ACC_FLAT) below LOW_ACCURACY.
"""

from __future__ import annotations

import numpy as np

from plateau_cli.diagnose.base import Finding, FindingKind, Severity
from plateau_cli.diagnose.context import TRAIN_LOSS, VAL_LOSS, Context

EARLY = 3
TAIL = 5
PEAK_FACTOR = 10.0
FLAT = 0.1
AFTER_SPREAD = 1.0
CHANCE_BAND = 0.25
ACC_FLAT = 0.03
#: A frozen accuracy counts as collapsed only below this (a model frozen at 99 % learned).
LOW_ACCURACY = 0.5


def detect(ctx: Context) -> Finding | None:
    for name in (TRAIN_LOSS, VAL_LOSS):
        curve = ctx.curve(name)
        if curve is None or len(curve) < EARLY + TAIL:
            continue
        v = curve.values
        peak_at = int(np.argmax(v[:EARLY]))
        peak = float(v[peak_at])
        tail = v[-TAIL:]
        level = float(np.median(tail))
        if not (level > 0 and peak >= PEAK_FACTOR * level):
            continue
        after = v[peak_at + 2 :]
        if after.size < TAIL or float(np.ptp(after)) > AFTER_SPREAD * level:
            continue
        if float(np.ptp(tail)) > FLAT * level:
            continue
        chance = ctx.classes.chance_loss
        at_chance = chance is not None and abs(level - chance) <= CHANCE_BAND * chance
        acc = ctx.curve(ctx.accuracy) if ctx.accuracy else None
        acc_frozen = (
            acc is not None
            and len(acc) >= TAIL
            and float(np.ptp(acc.values[-TAIL:])) < ACC_FLAT
            and float(np.median(acc.values[-TAIL:])) < LOW_ACCURACY
        )
        if not (at_chance or acc_frozen):
            continue
        return Finding(
            kind=FindingKind.DIVERGENCE,
            severity=Severity.ERROR,
            metric=name,
            epoch_start=curve.epoch(peak_at),
            epoch_end=curve.epoch(-1),
            summary=(
                f"{name} exploded to {peak:.4g} at epoch {curve.epoch(peak_at)} and then"
                f" collapsed to a flat {level:.4g}"
                + (f" (ln({ctx.classes.count}) = {chance:.3g}, chance)" if at_chance else "")
                + ": the learning rate blew the model up and left it predicting nothing"
            ),
            evidence={
                "metric": name,
                "explosion_then_collapse": True,
                "epoch": curve.epoch(peak_at),
                "peak_value": peak,
                "collapsed_level": level,
                "at_chance": at_chance,
                "accuracy_frozen": bool(acc_frozen),
                "peak_factor": PEAK_FACTOR,
            },
        )
    return None
