"""auto's rules, in order; the first that fires chooses. Each names the evidence it used.

The log-based part is diagnose's own recommendation (`Diagnosis.recommendation`, made by
diagnose/recommend.py): its verdict and action ids are read here, never re-derived, so auto and
diagnose cannot disagree on the same log; the checkpoint and the data refine it, in this one
place.

| # | rule            | fires when                                                  | strategy  |
|---|-----------------|-------------------------------------------------------------|-----------|
| 0 | nothing         | the log's verdict is converged (healthy: after rules a-5,   | none      |
|   |                 | when none of them fired)                                    |           |
| r | restart         | diagnose's recommendation names `restart`, or both losses   | none      |
|   |                 | sit at chance (>= AT_CHANCE x ln C) in a model with >=      | (restart) |
|   |                 | DEEP_SATURATING sigmoid/tanh layers: vanishing gradients;   |           |
|   |                 | not when only the log says so and a range test from the     |           |
|   |                 | checkpoint finds a rate >= RATE_GAP x the restored one      |           |
| p | past the best   | the log ends >= PAST_BEST worse than its best epoch, and that | regularize|
|   |                 | epoch's checkpoint sits beside the model (it rolls back)    |           |
| a | imbalance       | the data health check flags class imbalance, or diagnose    | rebalance |
|   |                 | recommends the `rebalance` action; not when a range test    |           |
|   |                 | finds a rate >= RATE_GAP x the restored one (rule c then)   |           |
| b | input scale     | the data health check flags unnormalised inputs             | normalize |
| c | slow            | the log shows slow convergence, or diagnose recommends      | lr-find   |
|   |                 | `raise-lr` (never a lower rate for a slow run), or the      |           |
|   |                 | range test of rule r finds a rate >= RATE_GAP x higher      |           |
| 1 | dynamics        | the log diverged after >= 2 good epochs, to finite values   | augment   |
|   |                 | (diagnose's own split, `augment_settles`; not for strings)  |           |
|   |                 | other divergence, oscillation, a bouncing plateau (not      | lr-decay  |
|   |                 | beside an overfitting verdict: rule 4 decides then)         |           |
| 2 | frozen base     | frozen parameters, and the model does not overfit           | unfreeze  |
| 3 | dead units      | >= DEAD_SHARE of a hidden ReLU layer's units are dead       | revive    |
| 4 | overfitting     | training loss < OVERFIT_RATIO x validation loss (and the    | augment   |
|   |                 | gap is real), or the log says overfitting (a model that     | (regular- |
|   |                 | takes strings: regularize; augment perturbs values)         | ize)      |
| 5 | bottleneck      | a widenable hidden layer narrower than the classes (or than |           |
|   |                 | MIN_WIDTH), or the log says underfitting                    | widen     |
| 6 | otherwise       | a plateau at a moderate loss                                | lr-decay  |

Why revive for dead units (3): FINDINGS §2 measured that no learning rate revives them; augment
moved them only partly (1.52 -> 1.36, FINDINGS §6), while revive took the `dead` samples from
val_loss 1.49 (Keras) / 1.52 (torch) to 0.33 / 0.38 in two epochs (benchmarks/results/escape.txt).
Why augment for divergence after learning (1) and normalize for unscaled inputs (b), measured on
the zoo's tune half only (benchmarks/escape_zoo.py, breast_cancer and digits, 3 epochs, seeds
0-2, benchmarks/results/zoo_mlp_all_arms.json): augment escaped the three logs that diverged
after learning (val_loss
0.713 -> 0.181, 0.520 -> 0.168, 18.0 -> 5.5) where lr-decay escaped one; augment lowers the
rate x0.2 and trains on noisy copies (4 passes an epoch). An oscillation alone keeps lr-decay:
on the `lr` samples (AdamW at 0.1) lr-decay reached 0.078 / 0.086 and augment 0.162. On inputs
at ~1e3 trained at SGD 1e-6, normalize's fold alone left the rate tuned for raw inputs and
lost to continuing (44.4 vs 34.7) while widen escaped (26.8); since normalize also rescales
the first layer's units and finds the rate again by a range test, it reaches 0.97 there
(benchmarks/zoo/README.md), so it is the input-scale choice.
Why regularize when the log is past its best and that epoch's file is there (p): on the zoo's
tune half (MLPs, 3 epochs, seeds 0-2, benchmarks/zoo/README.md) rolling back plus regularizing beat
auto's earlier pick on five of the six plateaus where it fires (small-overfit/digits 0.740 vs
0.789 rebalance, bottleneck/bc 0.091 vs 0.095, overfit-augment/bc 0.102 vs 0.160,
oscillation/bc 0.144 vs 0.181, divergence/digits 0.155 vs 5.9) and lost on one (bouncing/digits
0.236 vs augment 0.197, both escapes). The CNN plateaus that end ~2% past their best
(bottleneck, frozen base) are capacity problems: hence the 5% threshold.
Why restart: no arm escaped the vanishing-gradient plateaus (8 sigmoid layers, loss at ln 2);
saying so beats training epochs that cannot help (DESIGN: a decision, exit 0, like nothing to
change).
Why a range test may overrule a restart the log alone names (r): a loss pinned at chance that
still moves reads the same in a log whether the gradients vanish or the rate is far too low
(SGD at 1e-4). The checkpoint tells them apart: a deep sigmoid/tanh stack keeps the restart
(rule r's own test, first), and otherwise lr-find's range test from the checkpoint, run only
then, shows whether some rate >= RATE_GAP x the restored one lowers the loss. Prompted by a
REPORT-half miss (the zoo's too-low-lr CNN on shapes, at ln 4,
benchmarks/zoo/range_test_rules.md), so the report
half is not held out for this rule; on the tune half no log alone names restart (the vanishing
plateaus are decided by the checkpoint, which this does not change).
Why a rate far too low comes before class weights (a): on the zoo's tune half every
imbalance plateau also sat at SGD 1e-3, and there lr-find beat rebalance on balanced accuracy
(1 - balanced: MLP digits 0.001 vs 0.389, Keras breast_cancer 0.100 vs 0.255; CNN digits
images: lr-find 0.00 and 0.05 on the two seeds its test found a rate, rebalance 0.5 on all;
3 epochs, seeds 0-2, benchmarks/zoo/range_test_rules.md); the range test there found rates
100-720 x the
restored one (torch). The numbers that set it are the tune half's, but a report-half miss
of the same shape (Keras imbalance on wine: lr-find escaped, rebalance did not) was known when
the rule was written, so the report half is not blind for this rule either.
Why frozen comes before overfitting checks of the checkpoint (2): a frozen base caps the
training loss itself; unfreezing is refused only when the model clearly overfits (FINDINGS §4
and the unfreeze docstring: more capacity overfits more).
"""

from __future__ import annotations

from dataclasses import dataclass

from plateau_cli.auto.evidence import Evidence
from plateau_cli.diagnose.base import FindingKind
from plateau_cli.diagnose.recommend import augment_settles, bouncing

DEAD_SHARE = 0.5
OVERFIT_RATIO = 0.3
#: The gap must also be this share of the chance loss (ln C), so tiny losses do not qualify.
OVERFIT_GAP = 0.05
MIN_WIDTH = 8
#: Losses at or above this share of ln C count as "at chance" (a model at its class prior
#: scores a little below ln C: 0.66 for breast_cancer's 63/37 split, 0.95 x ln 2).
AT_CHANCE = 0.9
#: This many sigmoid/tanh layers make a stack deep enough for its gradients to vanish.
DEEP_SATURATING = 3
#: A range-test rate this many times the restored one is "far above" it: the log's restart
#: gives way to lr-find (the issue's too-low-rate plateau needed the rate x100).
RATE_GAP = 30.0
#: Log findings that say the steps are too large.
_DYNAMICS = {FindingKind.DIVERGENCE, FindingKind.OSCILLATION}


@dataclass(frozen=True)
class Choice:
    strategy: str
    rule: str
    reason: str
    alternatives: tuple[str, ...] = ()


#: The strategy auto names when nothing should change (resume then trains nothing, exit 0).
NOTHING = "none"
_SETTLED = {FindingKind.CONVERGED, FindingKind.HEALTHY}


def choose(e: Evidence) -> Choice:
    # A converged log ends the search at once. A healthy one (still improving) ends it only when
    # the data and the checkpoint show nothing either: on the zoo's tune half, logs of frozen
    # bases, dead units and imbalanced data read as healthy, and those plateaus escape.
    converged = (
        _settled(e) if e.diagnosis and e.diagnosis.verdict is FindingKind.CONVERGED else None
    )
    if converged is not None:
        return converged
    rules = (
        _restart,
        _past_best,
        _imbalance,
        _scale,
        _slow,
        _dynamics,
        _frozen,
        _dead,
        _overfitting,
        _bottleneck,
    )
    for rule in (*rules, _settled):
        choice = rule(e)
        if choice is not None:
            return choice
    return Choice(
        "lr-decay",
        "default",
        "no frozen layers, dead units, overfitting or bottleneck: a plateau at a moderate loss"
        f" (training {_f(e.train_loss)}, validation {_f(e.val_loss)}), which a lower learning"
        " rate lets settle",
        ("widen",),
    )


def _settled(e: Evidence) -> Choice | None:
    d = e.diagnosis
    if d is None or d.verdict not in _SETTLED:
        return None
    return Choice(
        NOTHING,
        "nothing-to-change",
        f"the log says the run is {d.verdict.value}: nothing to change (name a strategy with"
        " --strategy to change it anyway)",
    )


#: The rule name of the restart decision (auto trains nothing, like NOTHING).
RESTART = "restart"


def _vanishing(e: Evidence) -> bool:
    at_chance = (
        e.chance_loss is not None
        and e.train_loss is not None
        and e.val_loss is not None
        and min(e.train_loss, e.val_loss) >= AT_CHANCE * e.chance_loss
    )
    return at_chance and e.saturating_layers >= DEEP_SATURATING


def _imbalanced(e: Evidence) -> bool:
    return "class-imbalance" in e.health or "rebalance" in e.log_actions


def needs_range_test(e: Evidence) -> bool:
    """Where a rate far too low could be the real cause behind another rule's remedy: only
    the log says restart (a range test can still find a rate), or the classes are imbalanced
    (class weights at a rate far too low crawl too)."""
    return (RESTART in e.log_actions and not _vanishing(e)) or _imbalanced(e)


def rate_far_too_low(e: Evidence) -> bool:
    return (
        e.range_lr is not None
        and e.learning_rate is not None
        and e.learning_rate > 0
        and e.range_lr >= RATE_GAP * e.learning_rate
    )


def _restart(e: Evidence) -> Choice | None:
    vanishing = _vanishing(e)
    if not (vanishing or RESTART in e.log_actions):
        return None
    if not vanishing and rate_far_too_low(e):
        return None  # the rule `slow` takes it: lr-find
    if vanishing:
        why = (
            f"the loss sits at chance (training {_f(e.train_loss)}, validation"
            f" {_f(e.val_loss)}, ln {e.classes} = {_f(e.chance_loss)}) in a stack of"
            f" {e.saturating_layers} sigmoid/tanh layers: the gradients vanish before they"
            " reach the early layers"
        )
    else:
        why = "the log shows a run that resuming cannot repair"
    return Choice(
        NOTHING,
        RESTART,
        f"{why}. No resume strategy helps; restart from scratch with ReLU activations and He"
        " initialisation, batch normalisation or residual connections (action: restart)",
    )


#: How far past its best the log must end (share of the best value) for the roll-back rule.
PAST_BEST = 0.05


def _past_best(e: Evidence) -> Choice | None:
    r = e.rollback
    if not r:
        return None
    best, last = float(r["best_value"]), float(r["last_value"])
    minimise = not r["metric"].endswith(("accuracy", "acc", "auc", "f1", "precision", "recall"))
    rise = (last - best) if minimise else (best - last)
    if rise < PAST_BEST * abs(best):
        return None
    return Choice(
        "regularize",
        "past-best",
        f"the log's best {r['metric']} was at epoch {r['best_epoch']} ({_f(best)}) and it ends at"
        f" {_f(last)}, {int(r['last_epoch']) - int(r['best_epoch'])} epochs later; {r['file']}"
        " beside the model holds that epoch: roll back to it and regularize",
        ("augment",),
    )


def _imbalance(e: Evidence) -> Choice | None:
    if not _imbalanced(e) or rate_far_too_low(e):
        return None  # a rate far too low: the rule `slow` takes it (lr-find)
    why = e.health.get("class-imbalance") or "the log shows the majority-class plateau"
    return Choice(
        "rebalance",
        "imbalance",
        f"{why.rstrip('.')}: class weights make the rare classes count; judged on balanced"
        " accuracy",
        ("lr-find",),
    )


def _scale(e: Evidence) -> Choice | None:
    # Only the data can say the inputs are unscaled: diagnose suggests normalize-inputs for
    # any log that shows no learning (a rate far too low too), so its action is not enough
    # here where the data itself is at hand (tuned on the zoo's tune half: too-low-lr).
    if "unnormalised-inputs" not in e.health:
        return None
    why = e.health["unnormalised-inputs"]
    return Choice(
        "normalize",
        "input-scale",
        f"{why.rstrip('.')}: the inputs are standardised inside the model, the first layer's"
        " units rescaled to match (the function kept), and the rate found again by a range"
        " test for the new scale",
        ("widen", "lr-find"),
    )


def _slow(e: Evidence) -> Choice | None:
    slow = e.diagnosis is not None and FindingKind.SLOW_CONVERGENCE in {
        f.kind for f in e.diagnosis.findings
    }
    if rate_far_too_low(e):
        context = (
            "the classes are imbalanced, but class weights at a rate this low would crawl too;"
            " at a rate that learns, the rare classes are learned (judged on balanced accuracy)"
            if _imbalanced(e)
            else "the log shows no learning, but the rate is far too low, not the network broken"
        )
        return Choice(
            "lr-find",
            "rate-far-too-low",
            f"a range test from the checkpoint finds the loss falling at lr {_f(e.range_lr)},"
            f" {_f(e.range_lr / (e.learning_rate or 1))} times the restored"
            f" {_f(e.learning_rate)}: {context}",
            ("rebalance",) if _imbalanced(e) else ("normalize",),
        )
    if not (slow or "raise-lr" in e.log_actions):
        return None
    return Choice(
        "lr-find",
        "slow-convergence",
        f"the log shows the loss still falling slowly at lr {_f(e.learning_rate)}: a range"
        " test from the checkpoint finds a higher rate (a lower one would be slower still)",
        ("widen",),
    )


def _dynamics(e: Evidence) -> Choice | None:
    d = e.diagnosis
    if d is None:
        return None
    kinds = {f.kind for f in d.findings if f.actionable}
    noisy = [
        f.evidence for f in d.findings if f.kind is FindingKind.PLATEAU and bouncing(f.evidence)
    ]
    if not (kinds & _DYNAMICS or noisy):
        return None
    if d.verdict is FindingKind.OVERFITTING and FindingKind.DIVERGENCE not in kinds:
        # swings beside an overfitting verdict: the overfitting rule decides, as diagnose does
        # (the zoo's overfit-augment log on breast_cancer, tune half: augment escaped it,
        # lr-decay did not move it)
        return None
    # The same split as diagnose's plans: divergence after learning, to finite values, gets
    # augment; a run broken from its first epochs or gone to NaN, an oscillation or a
    # bouncing plateau, the lower rate.
    if augment_settles(d.findings) and not e.text_inputs:
        return Choice(
            "augment",
            "dynamics",
            "the log shows divergence after learning: the steps are too large for where the model"
            " now is; augment lowers the rate (x0.2) and averages the steps over noisy copies of"
            " the data",
            ("lr-decay",),
        )
    what = ", ".join(sorted(k.value for k in kinds & _DYNAMICS)) or "a bouncing plateau"
    return Choice(
        "lr-decay",
        "dynamics",
        f"the log shows {what}: the steps are too large to settle, which a lower rate fixes",
        ("augment",),
    )


def _overfits(e: Evidence) -> bool:
    if e.train_loss is None or e.val_loss is None:
        return False
    scale = e.chance_loss or max(e.val_loss, 1e-12)
    return (
        e.train_loss < OVERFIT_RATIO * e.val_loss
        and (e.val_loss - e.train_loss) >= OVERFIT_GAP * scale
    )


def _frozen(e: Evidence) -> Choice | None:
    if e.frozen_params <= 0 or _overfits(e):
        return None
    share = e.frozen_params / max(e.frozen_params + e.trainable_params, 1)
    return Choice(
        "unfreeze",
        "frozen-base",
        f"{e.frozen_params:,} parameters ({share:.0%}) are frozen and the model does not"
        f" overfit (training loss {_f(e.train_loss)}, validation {_f(e.val_loss)}): the frozen"
        " base's features hold the head back",
        ("lr-decay",),
    )


def _dead(e: Evidence) -> Choice | None:
    if e.worst_dead_share < DEAD_SHARE:
        return None
    worst = max(e.dead, key=lambda d: d.dead_share)
    return Choice(
        "revive",
        "dead-units",
        f"{worst.dead} of {worst.units} units of {worst.layer} output 0 on every training"
        " sample: no learning rate revives them; new incoming and zero outgoing weights do,"
        " keeping the outputs",
        ("augment",),
    )


def _overfitting(e: Evidence) -> Choice | None:
    logged = e.diagnosis is not None and e.diagnosis.verdict is FindingKind.OVERFITTING
    if not (_overfits(e) or logged):
        return None
    why = (
        f"training loss {_f(e.train_loss)} is far below validation {_f(e.val_loss)}"
        if _overfits(e)
        else "the log shows validation worsening while training improves"
    )
    if e.text_inputs:
        return Choice(
            "regularize",
            "overfitting",
            f"{why}: the model has memorised its training data; it takes text (strings or token"
            " ids), which augment's input noise cannot vary, so weight decay and dropout"
            " restrain it",
            ("lr-decay",),
        )
    return Choice(
        "augment",
        "overfitting",
        f"{why}: the model has memorised its training data, and augmentation brings back a"
        " training signal",
        ("lr-decay",),
    )


def _bottleneck(e: Evidence) -> Choice | None:
    logged = e.diagnosis is not None and e.diagnosis.verdict is FindingKind.UNDERFITTING
    if e.narrowest is None:
        return None
    name, width = e.narrowest
    limit = max(e.classes or 0, MIN_WIDTH)
    if width >= limit and not logged:
        return None
    why = (
        f"layer {name!r} has only {width} units, fewer than {limit}"
        if width < limit
        else "the log shows a high training loss close to validation"
    )
    return Choice(
        "widen",
        "bottleneck",
        f"{why}: every signal passes through it, so the model lacks capacity; new units"
        " (function-preserving) add it",
        ("lr-decay",),
    )


def _f(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.4g}"
