"""The signals issue 16 added: each on the shape of curve that called for it, and its near-miss.

Explosion then collapse (divergence, never "raise the rate"), a loss that falls below 0 without
bound, a first loss far above ln C, a validation loss many times the training loss, accuracies
flat far from a good fit, the verdict that explains the rest, and the confidence of a verdict.
"""

from __future__ import annotations

import numpy as np

from plateau_cli.diagnose import Confidence, DiagnoseOptions, diagnose
from plateau_cli.diagnose.base import ActionId, StrategyName
from tests.diagnose.diagnose_cases import LN10, K, history

RNG = np.random.default_rng(16)


def _noise(n: int, size: float) -> np.ndarray:
    return RNG.normal(0.0, size, n)


def exploded_then_collapsed():
    loss = np.r_[1.8e11, 3.1, LN10 + np.abs(_noise(18, 0.003))]
    acc = np.r_[0.1, 0.098, np.full(18, 0.0987)]
    return history(loss=loss, accuracy=acc, val_loss=loss + 0.004, val_accuracy=acc + 0.001)


def test_explosion_then_collapse_is_divergence_and_never_asks_for_a_higher_rate():
    d = diagnose(exploded_then_collapsed())
    assert d.verdict is K.DIVERGENCE
    assert d.findings[0].evidence["explosion_then_collapse"] is True
    assert K.NO_LEARNING in d.explains
    ids = [a.id for a in d.recommendation.actions]
    assert ActionId.RAISE_LR not in ids
    restart = next(a for a in d.recommendation.actions if a.id is ActionId.RESTART)
    assert "lower" in restart.text


def test_a_loss_that_falls_fast_and_then_learns_is_not_a_collapse():
    loss = np.r_[0.78, 0.2, 0.074, 0.07 - 0.0008 * np.arange(20)]
    acc = np.r_[0.5, 0.8, 0.9 + 0.004 * np.arange(21)]
    d = diagnose(history(loss=loss, accuracy=acc))
    assert d.verdict is not K.DIVERGENCE


def test_negative_unbounded_loss_is_improper_not_healthy():
    loss = -3e4 * np.geomspace(1, 4000, 15)
    d = diagnose(history(loss=loss, val_loss=loss * 1.1))
    assert d.verdict is K.IMPROPER_LOSS
    assert d.recommendation.strategy is StrategyName.NONE
    assert any(a.id is ActionId.CHECK_DATA for a in d.recommendation.actions)


def test_a_slightly_negative_loss_that_settles_is_not_improper():
    loss = -0.2 - 0.3 * np.exp(-np.arange(20) / 3)
    assert diagnose(history(loss=loss)).verdict is not K.IMPROPER_LOSS


def test_first_loss_far_above_ln_c_asks_to_normalise():
    n = 25
    loss = np.r_[17.0, 1.2 * np.exp(-np.arange(n - 1) / 6) + 0.1]
    acc = np.r_[0.35, 0.6 + 0.3 * (1 - np.exp(-np.arange(n - 1) / 6))]
    d = diagnose(history(loss=loss, accuracy=acc), DiagnoseOptions(num_classes=10))
    assert d.verdict is K.UNNORMALIZED_INPUTS
    assert d.recommendation.strategy is StrategyName.NORMALIZE
    assert ActionId.NORMALIZE_INPUTS in [a.id for a in d.recommendation.actions]


def test_first_loss_near_ln_c_is_not_a_scale_problem():
    loss = LN10 * np.exp(-np.arange(20) / 8) + 0.2
    acc = 0.95 - 0.85 * np.exp(-np.arange(20) / 8)
    d = diagnose(history(loss=loss, accuracy=acc), DiagnoseOptions(num_classes=10))
    assert K.UNNORMALIZED_INPUTS not in {f.kind for f in d.findings}


def test_validation_loss_66_times_training_is_overfitting():
    n = 20
    loss = 0.01 + 0.0005 * np.abs(_noise(n, 1.0))
    val = 0.66 - 0.002 * np.arange(n) + _noise(n, 0.002)
    d = diagnose(history(loss=loss, val_loss=val))
    assert d.verdict is K.OVERFITTING
    assert d.findings[0].evidence["ratio"] >= 10
    assert d.recommendation.strategy is StrategyName.REGULARIZE


def test_two_accuracies_flat_far_from_a_fit_are_a_plateau():
    # Learned for a few epochs, then sat still while the losses crept down by noise-size steps.
    n = 30
    loss = np.r_[2.2, 1.9, 1.7, 1.6 - 0.001 * np.arange(n - 3)]
    acc = np.r_[0.2, 0.4, 0.5, 0.53 + _noise(n - 3, 0.002)]
    val_acc = np.r_[0.2, 0.35, 0.4, 0.42 + _noise(n - 3, 0.002)]
    d = diagnose(history(loss=loss, val_loss=loss + 0.1, accuracy=acc, val_accuracy=val_acc))
    assert d.verdict is not K.HEALTHY
    assert d.verdict in (K.PLATEAU, K.SLOW_CONVERGENCE, K.UNDERFITTING)


def test_majority_class_is_the_cause_even_when_validation_loss_rises():
    n = 25
    loss = 0.5 - 0.01 * np.arange(n)
    val = 0.3 + 0.01 * np.arange(n)
    acc = np.full(n, 0.9)
    d = diagnose(history(loss=loss, accuracy=acc, val_loss=val, val_accuracy=acc))
    assert d.verdict is K.MAJORITY_CLASS
    assert d.recommendation.strategy is StrategyName.REBALANCE


def test_slow_convergence_asks_for_a_range_test_never_a_lower_rate():
    n = 40
    loss = 2.3 - 0.01 * np.arange(n) + _noise(n, 0.001)
    acc = 0.1 + 0.01 * np.arange(n)
    d = diagnose(history(loss=loss, accuracy=acc, val_loss=loss + 0.01, val_accuracy=acc))
    assert d.verdict is K.SLOW_CONVERGENCE
    assert d.recommendation.strategy is StrategyName.LR_FIND
    assert StrategyName.LR_DECAY not in d.recommendation.alternatives


def test_short_log_has_low_confidence_with_the_reason():
    d = diagnose(history(loss=[1.0, 0.8, 0.7]))
    assert d.confidence is Confidence.LOW
    assert "3 epoch" in d.confidence_reason


def test_long_log_with_validation_has_high_confidence():
    n = 30
    loss = 1.0 * np.exp(-np.arange(n) / 10) + 0.2
    d = diagnose(history(loss=loss, val_loss=loss + 0.05))
    assert d.confidence is Confidence.HIGH
    assert d.confidence_reason == ""


def test_no_three_classes_guessed_for_a_ten_class_model_at_35_percent():
    n = 20
    acc = 0.35 + _noise(n, 0.003)
    loss = 1.85 + _noise(n, 0.005)
    d = diagnose(history(loss=loss, accuracy=acc, val_loss=loss + 0.02, val_accuracy=acc))
    counts = {f.evidence.get("num_classes") for f in d.findings}
    assert 3 not in counts
    assert d.verdict is not K.CHANCE_LEVEL
    with_count = diagnose(
        history(loss=loss, accuracy=acc, val_loss=loss + 0.02, val_accuracy=acc),
        DiagnoseOptions(num_classes=10),
    )
    assert with_count.verdict is not K.CHANCE_LEVEL
