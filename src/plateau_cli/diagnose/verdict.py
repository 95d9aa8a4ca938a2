"""Run the detectors, drop the findings another one explains, and pick the verdict.

Priority (the verdict is the first kind found, and findings are listed in this order):
divergence (incl. an explosion followed by a collapse) > improper-loss > no-learning >
chance-level > majority-class > unnormalized-inputs > overfitting > oscillation > underfitting >
plateau > slow-convergence > converged > healthy.

The order runs from "the run is broken" to "the run is fine": a NaN makes every other symptom
moot; a model that learned nothing (or only the majority class) makes any talk of capacity or
learning rate premature; overfitting is a clear diagnosis with a clear fix, ahead of the
oscillation that may come with it; underfitting comes before a plain plateau because it is the
more specific reading of the same stall.

Explained findings are dropped: once divergence, no-learning, chance-level, majority-class or
overfitting is found, the stall of the monitored metric is a consequence, not a second
diagnosis, so no plateau/underfitting/converged/slow-convergence finding is added; nor is
slow-convergence (learning rate too low) next to an oscillation (too high).

A run can have several problems: the verdict is the cause, and `explained` names the other
findings it accounts for (CAUSES), which the JSON lists as `explains`. Two late checks run only
where nothing actionable was found: a validation loss many times the training loss (gap.py)
and accuracies flat far below a good fit (flat_accuracy.py).
"""

from __future__ import annotations

from plateau_cli.diagnose import (
    chance_level,
    collapse,
    divergence,
    fit_state,
    flat_accuracy,
    gap,
    improper_loss,
    input_scale,
    majority_class,
    no_learning,
    oscillation,
    overfitting,
    plateau,
    slow_convergence,
)
from plateau_cli.diagnose.base import Finding, FindingKind, Severity
from plateau_cli.diagnose.context import Context
from plateau_cli.diagnose.plateau import Stall

PRIORITY: tuple[FindingKind, ...] = (
    FindingKind.DIVERGENCE,
    FindingKind.IMPROPER_LOSS,
    FindingKind.NO_LEARNING,
    FindingKind.CHANCE_LEVEL,
    FindingKind.MAJORITY_CLASS,
    FindingKind.UNNORMALIZED_INPUTS,
    FindingKind.OVERFITTING,
    FindingKind.OSCILLATION,
    FindingKind.UNDERFITTING,
    FindingKind.PLATEAU,
    FindingKind.SLOW_CONVERGENCE,
    FindingKind.CONVERGED,
    FindingKind.HEALTHY,
)

#: Findings that explain a stall of the monitored metric on their own.
EXPLAINS_STALL = frozenset(
    {
        FindingKind.DIVERGENCE,
        FindingKind.IMPROPER_LOSS,
        FindingKind.NO_LEARNING,
        FindingKind.CHANCE_LEVEL,
        FindingKind.MAJORITY_CLASS,
        FindingKind.OVERFITTING,
    }
)

_BROKEN = frozenset(FindingKind) - {FindingKind.HEALTHY, FindingKind.CONVERGED}
#: What each cause explains: the verdict is the cause, these findings its symptoms.
CAUSES: dict[FindingKind, frozenset[FindingKind]] = {
    FindingKind.DIVERGENCE: _BROKEN - {FindingKind.DIVERGENCE},
    FindingKind.IMPROPER_LOSS: _BROKEN - {FindingKind.IMPROPER_LOSS},
    FindingKind.NO_LEARNING: frozenset(
        {FindingKind.CHANCE_LEVEL, FindingKind.PLATEAU, FindingKind.UNDERFITTING}
    ),
    FindingKind.CHANCE_LEVEL: frozenset(
        {FindingKind.PLATEAU, FindingKind.UNDERFITTING, FindingKind.OVERFITTING}
    ),
    FindingKind.MAJORITY_CLASS: frozenset(
        {
            FindingKind.OVERFITTING,
            FindingKind.PLATEAU,
            FindingKind.UNDERFITTING,
            FindingKind.NO_LEARNING,
            FindingKind.CHANCE_LEVEL,
            FindingKind.OSCILLATION,
        }
    ),
    FindingKind.UNNORMALIZED_INPUTS: frozenset(
        {
            FindingKind.OSCILLATION,
            FindingKind.OVERFITTING,
            FindingKind.PLATEAU,
            FindingKind.UNDERFITTING,
            FindingKind.SLOW_CONVERGENCE,
        }
    ),
    FindingKind.OVERFITTING: frozenset({FindingKind.PLATEAU, FindingKind.OSCILLATION}),
}


def explained(findings: list[Finding]) -> tuple[FindingKind, ...]:
    """The kinds among the other findings that the verdict (the first) explains."""
    causes = CAUSES.get(findings[0].kind, frozenset())
    return tuple(f.kind for f in findings[1:] if f.kind in causes)


def find_all(ctx: Context) -> tuple[list[Finding], Stall]:
    """Every finding, in priority order (never empty: `healthy` when nothing else)."""
    diverged = divergence.detect(ctx) or collapse.detect(ctx)
    found = [
        f
        for f in (
            diverged,
            improper_loss.detect(ctx),
            input_scale.detect(ctx),
            no_learning.detect(ctx),
            chance_level.detect(ctx),
            majority_class.detect(ctx),
            overfitting.detect(ctx),
            oscillation.detect(ctx),
        )
        if f is not None
    ]
    stall = plateau.analyse(ctx)
    kinds = {f.kind for f in found}
    if not kinds & EXPLAINS_STALL:
        if stall.stalled:
            found.append(fit_state.classify(ctx, stall))
        elif FindingKind.OSCILLATION not in kinds:
            slow = slow_convergence.detect(ctx, stall)
            if slow is not None:
                found.append(slow)
    if not any(f.actionable for f in found):
        # A run the stall rules call fine can still be far from it: a validation loss many
        # times the training loss, or accuracies flat far below a good fit.
        late = gap.detect(ctx) or flat_accuracy.detect(ctx)
        if late is not None:
            found.append(late)
    if not found:
        found.append(_healthy(ctx, stall))
    found.sort(key=lambda f: PRIORITY.index(f.kind))
    return found, stall


def _healthy(ctx: Context, stall: Stall) -> Finding:
    evidence = stall.evidence(ctx.patience, ctx.options.min_delta)
    evidence["enough_epochs"] = stall.enough_epochs
    if not stall.enough_epochs:
        summary = (
            f"only {stall.epochs_seen} epoch(s) of {stall.metric}: too few to judge a plateau"
            f" (patience {ctx.patience} needs {ctx.patience + 1})"
        )
    elif stall.improving:
        summary = (
            f"{stall.metric} still improving ({stall.trend.slope:+.3g} per epoch over the last"
            f" {stall.window} epochs, t = {stall.trend.t:.1f}); best {stall.best_value:.4g} at"
            f" epoch {stall.best_epoch}"
        )
    else:
        summary = (
            f"{stall.metric} last improved {stall.wait} epoch(s) ago, within patience"
            f" {ctx.patience}; best {stall.best_value:.4g} at epoch {stall.best_epoch}"
        )
    return Finding(
        kind=FindingKind.HEALTHY,
        severity=Severity.INFO,
        metric=stall.metric,
        epoch_start=None,
        epoch_end=None,
        summary=summary,
        evidence=evidence,
    )
