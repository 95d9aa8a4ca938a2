"""auto's rules, in order; the first that fires chooses. Each names the evidence it used.

| # | rule            | fires when                                                  | strategy  |
|---|-----------------|-------------------------------------------------------------|-----------|
| 1 | dynamics        | the log shows divergence, oscillation or a bouncing plateau | lr-decay  |
| 2 | frozen base     | frozen parameters, and the model does not overfit           | unfreeze  |
| 3 | dead units      | >= DEAD_SHARE of a hidden ReLU layer's units are dead       | augment   |
| 4 | overfitting     | training loss < OVERFIT_RATIO x validation loss (and the    | augment   |
|   |                 | gap is real), or the log says overfitting                   |           |
| 5 | bottleneck      | a widenable hidden layer narrower than the classes (or than |           |
|   |                 | MIN_WIDTH), or the log says underfitting                    | widen     |
| 6 | otherwise       | a plateau at a moderate loss                                | lr-decay  |

Why augment for dead units (3): FINDINGS §2 measured that no learning rate revives them, and
benchmarks/escape.py measured, on the `dead` samples, augment ahead of widen (input noise pushes
the dead units' pre-activations above zero on some samples, so gradient reaches them again, and
the lowered rate keeps the live ones steady) with lr-decay no better than continuing.
Why frozen comes before overfitting checks of the checkpoint (2): a frozen base caps the
training loss itself; unfreezing is refused only when the model clearly overfits (FINDINGS §4
and the unfreeze docstring: more capacity overfits more).
"""

from __future__ import annotations

from dataclasses import dataclass

from plateau_cli.auto.evidence import Evidence
from plateau_cli.diagnose.base import FindingKind

DEAD_SHARE = 0.5
OVERFIT_RATIO = 0.3
#: The gap must also be this share of the chance loss (ln C), so tiny losses do not qualify.
OVERFIT_GAP = 0.05
MIN_WIDTH = 8
#: Log findings that say the steps are too large.
_DYNAMICS = {FindingKind.DIVERGENCE, FindingKind.OSCILLATION}


@dataclass(frozen=True)
class Choice:
    strategy: str
    rule: str
    reason: str
    alternatives: tuple[str, ...] = ()


def choose(e: Evidence) -> Choice:
    for rule in (_dynamics, _frozen, _dead, _overfitting, _bottleneck):
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


def _dynamics(e: Evidence) -> Choice | None:
    d = e.diagnosis
    if d is None:
        return None
    kinds = {f.kind for f in d.findings if f.actionable}
    bouncing = any(
        f.kind is FindingKind.PLATEAU
        and isinstance(f.evidence.get("noise_over_level"), float)
        and f.evidence["noise_over_level"] >= float(f.evidence.get("noisy_plateau_threshold", 0.1))
        for f in d.findings
    )
    if not (kinds & _DYNAMICS or bouncing):
        return None
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
        "augment",
        "dead-units",
        f"{worst.dead} of {worst.units} units of {worst.layer} output 0 on every training"
        " sample: no learning rate revives them (FINDINGS §2); input noise reaches them again",
        ("widen",),
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
