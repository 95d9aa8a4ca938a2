"""From findings to one recommendation: a resume strategy, its reason, alternatives, actions.

Each finding kind has a plan (strategy, alternatives, actions), chosen from its evidence. The
verdict's plan is the recommendation; the other findings add their strategies as alternatives
and their actions after the verdict's own (without `stop` unless the run converged, and
without `raise-lr` next to a strategy that lowers the learning rate).

| verdict            | strategy   | alternatives       | actions                                  |
|--------------------|------------|--------------------|------------------------------------------|
| divergence         | lr-decay   |                    | restore-best (+ check-data/normalize     |
|                    |            |                    | when broken from the first epoch)        |
| divergence after   | augment    | lr-decay           | restore-best                             |
| >= 2 good epochs,  |            |                    |                                          |
| to finite values   |            |                    |                                          |
| divergence, blown  | none       |                    | restart (lower rate), inspect            |
| up then collapsed  |            |                    |                                          |
| improper-loss      | none       |                    | check-data (loss vs targets), restart    |
| no-learning        | none       |                    | check-data, normalize-inputs or          |
|                    |            |                    | check-frozen, inspect (+ restart when    |
|                    |            |                    | pinned at ln C, raise-lr when improving) |
| chance-level       | none       |                    | check-data, normalize-inputs             |
| majority-class     | rebalance  |                    | rebalance, check-data                    |
| unnormalized-inputs| normalize  | lr-decay           | normalize-inputs                         |
| overfitting        | regularize | augment, lr-decay  | restore-best, regularize                 |
| overfitting, train | augment    | regularize,        | restore-best, regularize                 |
| loss near 0        |            | lr-decay           |                                          |
| oscillation        | lr-decay   |                    | restore-best when the end is worse       |
| underfitting       | widen      | lr-decay, unfreeze | check-frozen                             |
| plateau, gap       | augment    | lr-decay           | regularize                               |
| plateau            | lr-decay   | widen, unfreeze    |                                          |
| slow-convergence   | lr-find    |                    | raise-lr (never a lower rate)            |
| converged          | none       |                    | stop                                     |
| healthy            | none       |                    |                                          |

`recommend(findings, stall)` is pure (findings in, one Recommendation out): `resume --strategy
auto` can call it on the findings of `diagnose(history)` as its log-based decision.

Divergence after at least LEARNED_EPOCHS good epochs, to finite values, gets augment (its rate
x0.2 plus noisy copies of the data), not lr-decay alone: on the development zoo's tune half
(benchmarks/escape_zoo.py, breast_cancer and digits, 3 epochs, seeds 0-2) augment escaped all
three such logs (val_loss 0.713 -> 0.181, 0.520 -> 0.168, 18.0 -> 5.5), lr-decay one. A run
broken from its first epochs (loss to 1e23) or gone to NaN keeps lr-decay and the data checks;
so does an oscillation without a divergence (the `lr` samples, AdamW at 0.1: lr-decay 0.078 /
0.086 val_loss, augment 0.162, benchmarks/results/escape.json).

An oscillation followed by a stall can be dead ReLU units, which no learning rate revives
(FINDINGS.md section 2); the reason then says how to count them, and `revive` joins the
alternatives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from plateau_cli.diagnose.base import (
    Action,
    ActionId,
    Finding,
    FindingKind,
    Recommendation,
    StrategyName,
)
from plateau_cli.diagnose.fit_state import NOISY_PLATEAU, SMALL_GAP
from plateau_cli.diagnose.plateau import Stall
from plateau_cli.monitor import Monitor

S = StrategyName
DEAD_UNITS = (
    " An oscillation followed by a plateau can also mean dead ReLU units, which no learning"
    " rate revives: `plateau-cli inspect MODEL --data DATA` counts them."
)
CHECK_DATA = Action(
    ActionId.CHECK_DATA,
    "Check the labels and the input pipeline: labels that belong to their inputs, shuffling,"
    " and a validation split drawn like the training data.",
)
NORMALIZE = Action(
    ActionId.NORMALIZE_INPUTS,
    "Normalise the inputs (zero mean and unit variance per feature, pixels scaled to [0, 1]):"
    " unscaled inputs can stall or blow up training from the first epoch.",
)
INSPECT = Action(
    ActionId.INSPECT,
    "A log cannot show dead units, a frozen base or a bottleneck: `plateau-cli inspect MODEL"
    " --data DATA` counts them, or let `resume MODEL --strategy auto` decide from the"
    " checkpoint.",
)
REGULARIZE = Action(ActionId.REGULARIZE, "Regularise: dropout, weight decay or more training data.")
CHECK_FROZEN = Action(
    ActionId.CHECK_FROZEN,
    "A log cannot show frozen layers: `plateau-cli inspect MODEL` lists what is trainable; a"
    " frozen base holding the training loss up calls for --strategy unfreeze.",
)


@dataclass(frozen=True)
class _Plan:
    strategy: StrategyName
    reason: str
    alternatives: tuple[StrategyName, ...] = ()
    actions: tuple[Action, ...] = ()


def recommend(findings: Sequence[Finding], stall: Stall) -> Recommendation:
    """The recommendation for findings sorted by priority (the first is the verdict)."""
    main = _plan(findings[0], stall)
    if findings[0].kind is FindingKind.DIVERGENCE and augment_settles(findings):
        main = _Plan(
            S.AUGMENT,
            f"{findings[0].metric} diverged at epoch {findings[0].evidence.get('epoch')} after"
            " learning: the rate is too high for where the model now is."
            " augment lowers it and averages the steps over noisy copies of the data; resume"
            " from the last good epoch.",
            (S.LR_DECAY,),
            main.actions,
        )
    kinds = {f.kind for f in findings}
    reason = main.reason
    oscillation = next((f for f in findings if f.kind is FindingKind.OSCILLATION), None)
    if (
        oscillation is not None
        and not oscillation.evidence.get("ongoing")
        and (stall.stalled or kinds & {FindingKind.NO_LEARNING, FindingKind.CHANCE_LEVEL})
    ):
        reason += DEAD_UNITS
    alternatives = list(main.alternatives)
    if (
        reason.endswith(DEAD_UNITS)
        and S.REVIVE not in alternatives
        and main.strategy is not S.REVIVE
    ):
        alternatives.append(S.REVIVE)
    actions = list(main.actions)
    for finding in findings[1:]:
        plan = _plan(finding, stall)
        if plan.strategy not in (S.NONE, main.strategy) and plan.strategy not in alternatives:
            alternatives.append(plan.strategy)
        for action in plan.actions:
            if action.id is ActionId.STOP and main.strategy is not S.NONE:
                continue
            if action.id is ActionId.RAISE_LR and main.strategy in (S.LR_DECAY, S.NONE):
                continue
            if all(a.id is not action.id for a in actions):
                actions.append(action)
    return Recommendation(main.strategy, reason, tuple(alternatives), tuple(actions))


def _restore(epoch: object, metric: object, value: object) -> Action:
    shown = f" ({metric} {value:.4g})" if isinstance(value, float) else ""
    return Action(
        ActionId.RESTORE_BEST,
        f"Roll back to the checkpoint of epoch {epoch}{shown}, the best one, and resume from it.",
    )


def _plan(finding: Finding, stall: Stall) -> _Plan:
    kind, ev = finding.kind, finding.evidence
    if kind is FindingKind.DIVERGENCE:
        if ev.get("explosion_then_collapse"):
            return _Plan(
                S.NONE,
                f"{finding.metric} exploded at epoch {ev.get('epoch')} and the model has sat at"
                " chance since: the blow-up killed its units, so no resume strategy (and no"
                " higher rate) brings it back; restart with a lower rate.",
                (),
                (_restart("a learning rate 10 times lower (and inputs at unit scale)"), INSPECT),
            )
        actions: list[Action] = []
        if ev.get("restore_epoch") is not None:
            actions.append(_restore(ev["restore_epoch"], stall.metric, ev.get("restore_value")))
        if ev.get("best_before") is None or ev.get("restore_epoch") is None:
            actions += [CHECK_DATA, NORMALIZE]  # broken from the first epoch: look at the data
        return _Plan(
            S.LR_DECAY,
            f"{finding.metric} diverged at epoch {ev.get('epoch')}: a lower learning rate, resumed"
            " from the last good epoch, keeps the updates from blowing up.",
            (),
            tuple(actions),
        )
    if kind is FindingKind.IMPROPER_LOSS:
        return _Plan(
            S.NONE,
            f"{finding.metric} falls below 0 without bound: the loss does not fit the targets"
            " (labels outside what it expects, or a sign error), so every epoch only makes the"
            " model worse at the real task. Fix the loss or the labels and restart.",
            (),
            (
                Action(
                    ActionId.CHECK_DATA,
                    "Check that the loss matches the targets: binary cross-entropy needs labels"
                    " in [0, 1], categorical cross-entropy class indices or one-hot rows, and no"
                    " loss may be negated.",
                ),
                _restart("the loss matched to the targets"),
            ),
        )
    if kind is FindingKind.UNNORMALIZED_INPUTS:
        return _Plan(
            S.NORMALIZE,
            f"The first {finding.metric} ({_num(ev.get('first_value'))}) is far above what an"
            " untrained classifier scores: the inputs are far from unit scale, which stalls or"
            " destabilises training. Normalise them.",
            (S.LR_DECAY,),
            (NORMALIZE,),
        )
    if kind is FindingKind.NO_LEARNING:
        actions = [CHECK_DATA, CHECK_FROZEN if ev.get("constant") else NORMALIZE, INSPECT]
        at_chance = ev.get("best_over_chance")
        if not ev.get("constant") and isinstance(at_chance, float) and at_chance >= 0.97:
            # Moving, yet pinned at ln C: the gradient does not reach the early layers.
            actions.append(
                _restart(
                    "ReLU activations and He initialisation (or batch normalisation) in place of"
                    " a deep sigmoid/tanh stack, if that is what the model is: a loss pinned at"
                    " ln C that still moves is vanishing gradients"
                )
            )
        if ev.get("improving_significantly"):
            actions.append(_raise_lr(ev.get("slope_per_epoch")))
        return _Plan(
            S.NONE,
            "Nothing was learned, so no resume strategy can help until the cause is fixed:"
            " usually the data (labels, scaling) or an update that never reaches the weights.",
            (),
            tuple(actions),
        )
    if kind is FindingKind.CHANCE_LEVEL:
        return _Plan(
            S.NONE,
            "Accuracy at chance means the inputs tell the model nothing about the labels yet:"
            " fix the data or its scaling before spending epochs.",
            (),
            (CHECK_DATA, NORMALIZE),
        )
    if kind is FindingKind.MAJORITY_CLASS:
        rebalance = Action(
            ActionId.REBALANCE,
            f"Rebalance the classes (class weights or resampling): {finding.metric} frozen at"
            f" {ev.get('frozen_value')} is the share of the one class the model predicts.",
        )
        return _Plan(
            S.REBALANCE,
            "The model predicts one class for everything: resume with the classes rebalanced"
            " (class weights), or fix the labels if the balance is not the cause.",
            (),
            (rebalance, CHECK_DATA),
        )
    if kind is FindingKind.OVERFITTING:
        since = (
            f"Validation loss ends at {_num(ev.get('ratio'))}x the training loss"
            if ev.get("route")
            else f"Validation has worsened since epoch {ev.get('best_epoch')} while training"
            " kept improving"
        )
        actions = (_restore(ev.get("best_epoch"), finding.metric, ev.get("best_value")), REGULARIZE)
        if _memorised(ev):
            return _Plan(
                S.AUGMENT,
                f"{since}, and the training loss is near zero: the model has memorised its"
                " training set, so augmentation strong enough to lift the training loss off zero"
                " brings back a training signal; resume from the best epoch.",
                (S.REGULARIZE, S.LR_DECAY),
                actions,
            )
        return _Plan(
            S.REGULARIZE,
            f"{since}: resume from the best epoch with regularisation (weight decay, dropout);"
            " the training loss is not near zero, so augmentation is not what it lacks.",
            (S.AUGMENT, S.LR_DECAY),
            actions,
        )
    if kind is FindingKind.OSCILLATION:
        actions = []
        if _end_worse_than_best(stall):
            actions.append(_restore(stall.best_epoch, stall.metric, stall.best_value))
        return _Plan(
            S.LR_DECAY,
            f"{finding.metric} swings up and down by"
            f" {_num(ev.get('median_amplitude'))}: the learning rate is too high, and a lower"
            " one damps the swings.",
            (),
            tuple(actions),
        )
    if kind is FindingKind.UNDERFITTING:
        return _Plan(
            S.WIDEN,
            "The training loss is still high and close to validation: the model cannot fit even"
            " its training data, so more capacity (widen, function-preserving) is the first"
            " thing to try; a frozen base would look the same.",
            (S.LR_DECAY, S.UNFREEZE),
            (CHECK_FROZEN,),
        )
    if kind is FindingKind.PLATEAU:
        gap = ev.get("gap_over_reference")
        noise = ev.get("noise_over_level")
        if bouncing(ev):
            return _Plan(
                S.LR_DECAY,
                f"{finding.metric} bounces by about {noise:.0%} of its level from epoch to epoch"
                " instead of settling: the steps are too large for the minimum it sits in, and a"
                " lower learning rate lets it settle.",
                (S.AUGMENT, S.WIDEN) if isinstance(gap, float) and gap >= SMALL_GAP else (S.WIDEN,),
            )
        if isinstance(gap, float) and gap >= SMALL_GAP:
            return _Plan(
                S.AUGMENT,
                "The model fits its training data clearly better than validation and has"
                " stopped improving: augmentation (with regularisation) narrows that gap.",
                (S.LR_DECAY,),
                (REGULARIZE,),
            )
        return _Plan(
            S.LR_DECAY,
            "Stuck at a moderate loss with little gap to validation: a lower learning rate lets"
            " it settle into the minimum it keeps stepping over.",
            (S.WIDEN, S.UNFREEZE),
        )
    if kind is FindingKind.SLOW_CONVERGENCE:
        return _Plan(
            S.LR_FIND,
            "Gains are steady but tiny: the learning rate looks too low. A learning-rate range"
            " test from the checkpoint finds a larger one that still trains stably.",
            (),
            (_raise_lr(ev.get("slope_second_half")),),
        )
    if kind is FindingKind.CONVERGED:
        stop = Action(
            ActionId.STOP,
            f"Stop: {stall.metric} has settled (best {_num(stall.best_value)} at epoch"
            f" {stall.best_epoch}) with a low training loss and a small gap; more epochs will"
            " not help.",
        )
        return _Plan(S.NONE, "The model has converged: low training loss, small gap.", (), (stop,))
    return _Plan(S.NONE, "Still improving: let it train; nothing to change yet.")


def bouncing(ev: Mapping[str, object]) -> bool:
    """A plateau finding's metric bounces (noise at least NOISY_PLATEAU of its level)."""
    noise = ev.get("noise_over_level")
    return isinstance(noise, float) and noise >= NOISY_PLATEAU


#: A divergence whose best epoch before the blow-up is at least this far in learned first.
LEARNED_EPOCHS = 2


def diverged_after_learning(ev: Mapping[str, object]) -> bool:
    """A divergence finding to finite values after >= LEARNED_EPOCHS good epochs, not a
    collapse to chance."""
    restore = ev.get("restore_epoch")
    return (
        isinstance(restore, int)
        and restore >= LEARNED_EPOCHS
        and isinstance(ev.get("best_before"), float)
        and ev.get("how") != "non-finite"
        and not ev.get("explosion_then_collapse")
    )


def augment_settles(findings: Sequence[Finding]) -> bool:
    """The log diverged, every time after learning and to finite values: the dynamics that
    augment escaped on the zoo's tune half (a run broken from its first epochs, gone to NaN, or
    one that only oscillates keeps lr-decay)."""
    diverged = [f for f in findings if f.kind is FindingKind.DIVERGENCE]
    return bool(diverged) and all(diverged_after_learning(f.evidence) for f in diverged)


#: Overfitting with the training loss below this share of its scale (ln C or the first loss) is
#: memorisation: augmentation, strong enough to lift it off zero, is then indicated.
MEMORISED = 0.05


def _memorised(ev: Mapping[str, object]) -> bool:
    last, scale = ev.get("train_last"), ev.get("train_scale")
    if not isinstance(last, float) or not isinstance(scale, float) or scale <= 0:
        return False
    return 0.0 <= last <= MEMORISED * scale


def _restart(change: str) -> Action:
    return Action(
        ActionId.RESTART,
        f"Restart from scratch with {change}: resuming this checkpoint keeps what broke it.",
    )


def _raise_lr(slope: object) -> Action:
    per_epoch = f" (the loss moves only {_num(slope)} per epoch)" if slope is not None else ""
    return Action(
        ActionId.RAISE_LR, f"Raise the learning rate, 3 to 10 times{per_epoch}, and retrain."
    )


def _end_worse_than_best(stall: Stall) -> bool:
    if stall.best_value is None or stall.last_value is None:
        return False
    robust = Monitor.for_metric(stall.metric, min_delta=stall.effective_min_delta, mode=stall.mode)
    return robust.is_improvement(stall.best_value, stall.last_value)


def _num(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)
