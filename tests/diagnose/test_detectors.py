"""Each detector on a series WITH its symptom and on series WITHOUT it, checking the evidence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plateau_cli.diagnose import DiagnoseOptions, FindingKind, Severity
from plateau_cli.diagnose import chance_level as chance_mod
from plateau_cli.diagnose import divergence as divergence_mod
from plateau_cli.diagnose import majority_class as majority_mod
from plateau_cli.diagnose import no_learning as no_learning_mod
from plateau_cli.diagnose import oscillation as oscillation_mod
from plateau_cli.diagnose import overfitting as overfitting_mod
from plateau_cli.diagnose import plateau as plateau_mod
from plateau_cli.diagnose import slow_convergence as slow_mod
from tests.diagnose.diagnose_cases import (
    LN10,
    context,
    converged,
    explosion,
    finetuned_converged_from_start,
    flat_regression,
    frozen_accuracy,
    healthy,
    history,
    learned_then_frozen_at_best,
    nan_divergence,
    noisy_but_improving,
    oscillating,
    oscillation_then_plateau,
    overfitting,
    plateau_with_gap,
    slow_steady,
    stuck_at_ln10,
)

# divergence ---------------------------------------------------------------------------------


def test_divergence_on_nan_names_the_epoch_and_the_epoch_to_restore() -> None:
    finding = divergence_mod.detect(context(nan_divergence()))
    assert finding is not None
    assert finding.kind is FindingKind.DIVERGENCE
    assert finding.severity is Severity.ERROR
    assert finding.epoch_start == 12
    assert finding.evidence["how"] == "non-finite"
    assert math.isnan(float(finding.evidence["value"]))  # type: ignore[arg-type]
    assert finding.evidence["restore_epoch"] == 11


def test_divergence_on_explosion() -> None:
    finding = divergence_mod.detect(context(explosion()))
    assert finding is not None
    assert finding.evidence["how"] == "explosion"
    # Epoch 8 (1.4) is 3x the best but still below the first loss (2.0); epoch 9 (4.8) is both.
    assert finding.epoch_start == 9
    assert float(finding.evidence["factor_over_best"]) > 3  # type: ignore[arg-type]
    assert finding.evidence["restore_epoch"] == 7


def test_no_divergence_for_a_spike_that_recovers_or_a_slow_overfit() -> None:
    spike = history(loss=[2.0, 1.0, 0.6, 0.5, 3.0, 0.45, 0.44, 0.43])
    assert divergence_mod.detect(context(spike)) is None
    assert divergence_mod.detect(context(overfitting())) is None
    assert divergence_mod.detect(context(healthy())) is None


def test_divergence_from_the_first_epoch_has_no_restore_point() -> None:
    run = history(loss=[math.nan] * 6, val_loss=[math.inf] * 6)
    finding = divergence_mod.detect(context(run))
    assert finding is not None
    assert finding.epoch_start == 1
    assert finding.evidence["restore_epoch"] is None


# no-learning --------------------------------------------------------------------------------


def test_no_learning_at_chance_compares_with_ln_c() -> None:
    finding = no_learning_mod.detect(context(stuck_at_ln10()))
    assert finding is not None
    assert finding.severity is Severity.ERROR
    assert finding.evidence["num_classes"] == 10
    assert finding.evidence["chance_loss"] == pytest.approx(LN10)
    assert float(finding.evidence["best_over_chance"]) > 0.97  # type: ignore[arg-type]
    assert "ln(10)" in finding.summary


def test_no_learning_without_classes_says_it_could_not_compare() -> None:
    finding = no_learning_mod.detect(context(flat_regression()))
    assert finding is not None
    assert finding.evidence["chance_loss"] is None
    assert finding.evidence["num_classes_source"] == "unknown"
    assert "unknown" in finding.summary
    assert float(finding.evidence["relative_improvement"]) < 0.02  # type: ignore[arg-type]


def test_a_loss_that_does_not_move_at_all_is_flagged_constant() -> None:
    finding = no_learning_mod.detect(context(history(loss=[0.7] * 8, val_loss=[0.71] * 8)))
    assert finding is not None
    assert finding.evidence["constant"] is True


def test_no_no_learning_when_learning_or_low_from_the_start() -> None:
    assert no_learning_mod.detect(context(healthy())) is None
    assert no_learning_mod.detect(context(slow_steady())) is None
    low = context(finetuned_converged_from_start(), DiagnoseOptions(num_classes=10))
    assert no_learning_mod.detect(low) is None


# chance-level -------------------------------------------------------------------------------


def test_chance_level_accuracy() -> None:
    finding = chance_mod.detect(context(stuck_at_ln10()))
    assert finding is not None
    assert finding.metric == "val_accuracy"
    assert finding.evidence["chance_accuracy"] == pytest.approx(0.1)
    assert abs(float(finding.evidence["accuracy"]) - 0.1) <= 0.02  # type: ignore[arg-type]


def test_chance_level_for_two_classes_given_on_the_command_line() -> None:
    run = history(loss=[0.9, 0.8, 0.7, 0.65, 0.6], accuracy=[0.52, 0.49, 0.51, 0.5, 0.5])
    finding = chance_mod.detect(context(run, DiagnoseOptions(num_classes=2)))
    assert finding is not None
    assert finding.evidence["num_classes_source"] == "--num-classes"


def test_no_chance_level_when_learning_or_classes_unknown() -> None:
    assert chance_mod.detect(context(healthy())) is None
    learning = history(loss=[2.0, 1.5, 1.2, 0.9], accuracy=[0.4, 0.5, 0.6, 0.7])
    ctx = context(learning)
    assert ctx.classes.count is None
    assert chance_mod.detect(ctx) is None


# majority-class -----------------------------------------------------------------------------


def test_majority_class_frozen_accuracy_while_loss_moves() -> None:
    finding = majority_mod.detect(context(frozen_accuracy()))
    assert finding is not None
    assert finding.evidence["frozen_value"] == 0.8123
    assert finding.evidence["frozen_epochs"] == 25
    assert finding.evidence["frozen_since_epoch"] == 1
    assert float(finding.evidence["loss_relative_range"]) > 0.01  # type: ignore[arg-type]


def test_majority_class_after_a_collapse() -> None:
    acc = [0.5, 0.7, 0.85, 0.9, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    loss = [1.0, 0.7, 0.5, 0.4, 0.9, 0.85, 0.8, 0.78, 0.77, 0.76]
    finding = majority_mod.detect(context(history(loss=loss, accuracy=acc)))
    assert finding is not None
    assert finding.evidence["best_before_freeze"] == 0.9


def test_majority_class_frozen_high_from_the_start_is_still_one_class() -> None:
    """97.22 % from epoch 1, never moving, while the loss falls: a 97 % majority class."""
    run = history(loss=[0.5 - 0.01 * i for i in range(12)], accuracy=[0.9722] * 12)
    assert majority_mod.detect(context(run)) is not None


@pytest.mark.parametrize(
    ("acc", "loss"),
    [
        ([1.0] * 12, [0.1 - 0.005 * i for i in range(12)]),
        ([0.8123] * 12, [0.5] * 12),
        ([0.8123] * 4 + [0.8124] + [0.8123] * 3, [0.5 - 0.01 * i for i in range(8)]),
    ],
    ids=["perfect-accuracy", "loss-frozen-too", "frozen-for-fewer-than-patience"],
)
def test_no_majority_class_for_these(acc: list[float], loss: list[float]) -> None:
    assert majority_mod.detect(context(history(loss=loss, accuracy=acc))) is None


def test_no_majority_class_when_frozen_at_its_best() -> None:
    assert majority_mod.detect(context(learned_then_frozen_at_best())) is None


# overfitting --------------------------------------------------------------------------------


def test_overfitting_starts_at_the_best_validation_epoch() -> None:
    finding = overfitting_mod.detect(context(overfitting()))
    assert finding is not None
    assert finding.epoch_start == finding.evidence["best_epoch"]
    assert 14 <= int(finding.evidence["best_epoch"]) <= 18  # type: ignore[arg-type]
    assert float(finding.evidence["val_slope_t"]) >= 2  # type: ignore[arg-type]
    assert float(finding.evidence["train_slope_t"]) <= -2  # type: ignore[arg-type]
    assert float(finding.evidence["gap_last"]) > float(finding.evidence["gap_at_best"])  # type: ignore[arg-type]


def test_no_overfitting_when_validation_is_flat_or_training_worsens_too() -> None:
    assert overfitting_mod.detect(context(plateau_with_gap())) is None
    assert overfitting_mod.detect(context(healthy())) is None
    both_worse = np.linspace(0.5, 0.9, 15)
    run = history(loss=both_worse - 0.1, val_loss=both_worse)
    assert overfitting_mod.detect(context(run)) is None


def test_overfitting_on_the_monitored_accuracy_pair_without_losses() -> None:
    t = np.arange(30)
    acc = 0.99 - 0.5 * np.exp(-t / 5)
    val = np.minimum(0.8, 0.5 + 0.05 * t) - np.maximum(0, t - 8) * 0.01
    run = history(accuracy=acc, val_accuracy=val)
    finding = overfitting_mod.detect(context(run))
    assert finding is not None
    assert finding.metric == "val_accuracy"


# oscillation --------------------------------------------------------------------------------


def test_oscillation_amplitude_and_span() -> None:
    finding = oscillation_mod.detect(context(oscillating()))
    assert finding is not None
    assert int(finding.evidence["swings"]) >= 20  # type: ignore[arg-type]
    assert float(finding.evidence["relative_amplitude"]) > 0.3  # type: ignore[arg-type]
    assert finding.evidence["ongoing"] is True


def test_oscillation_that_stopped_is_not_ongoing() -> None:
    finding = oscillation_mod.detect(context(oscillation_then_plateau()))
    assert finding is not None
    assert finding.epoch_end is not None
    assert finding.epoch_end <= 16
    assert finding.evidence["ongoing"] is False


def test_no_oscillation_for_noise_or_jitter_near_zero() -> None:
    assert oscillation_mod.detect(context(noisy_but_improving())) is None
    jitter = 0.005 + 0.002 * (-1.0) ** np.arange(30)
    run = history(loss=np.concatenate([[2.3, 1.0, 0.3, 0.05], jitter]))
    assert oscillation_mod.detect(context(run)) is None


# plateau (the stall rule) -------------------------------------------------------------------


def test_keras_wait_is_reported_as_keras_counts_it() -> None:
    values = [1.0, 0.8, 0.7, 0.69, 0.71, 0.7, 0.72, 0.7, 0.71]
    stall = plateau_mod.analyse(context(history(loss=values)))
    assert stall.keras_wait == 5  # best 0.69 at the fourth epoch


def test_a_lucky_epoch_does_not_reset_the_wait() -> None:
    values = [2.0, 1.2, 0.8, 0.6, 0.6, 0.61, 0.59, 0.6, 0.61, 0.6, 0.59, 0.61, 0.3, 0.6, 0.6]
    stall = plateau_mod.analyse(context(history(loss=values)))
    assert stall.keras_wait == 2
    assert stall.stalled
    assert stall.wait >= 5
    assert stall.best_epoch == 13
    assert stall.since_epoch is not None
    assert stall.since_epoch < 13


def test_patience_and_min_delta_are_honoured() -> None:
    values = [1.0, 0.5, 0.4, 0.39, 0.385, 0.383, 0.382]
    short = plateau_mod.analyse(context(history(loss=values), DiagnoseOptions(patience=5)))
    assert not short.stalled  # 0.39 -> 0.382 still counts at min_delta 0 (noise-free)
    coarse = DiagnoseOptions(patience=3, min_delta=0.05)
    assert plateau_mod.analyse(context(history(loss=values), coarse)).stalled


def test_slow_steady_improvement_is_not_a_stall() -> None:
    stall = plateau_mod.analyse(context(slow_steady()))
    assert not stall.stalled
    assert stall.improving
    assert stall.trend.t <= -2


def test_stall_of_a_max_mode_monitor() -> None:
    t = np.arange(30)
    acc = np.minimum(0.9, 0.3 + 0.1 * t) + 0.003 * (-1.0) ** t
    options = DiagnoseOptions(monitor="val_acc")
    stall = plateau_mod.analyse(context(history(loss=2 - acc, val_accuracy=acc), options))
    assert stall.metric == "val_accuracy"
    assert stall.mode.value == "max"
    assert stall.stalled


# slow convergence ---------------------------------------------------------------------------


def test_slow_convergence_when_gains_are_steady_and_tiny() -> None:
    ctx = context(slow_steady())
    finding = slow_mod.detect(ctx, plateau_mod.analyse(ctx))
    assert finding is not None
    assert float(finding.evidence["gain_per_epoch_over_scale"]) < 0.01  # type: ignore[arg-type]
    assert float(finding.evidence["second_over_first"]) >= 0.5  # type: ignore[arg-type]


@pytest.mark.parametrize("build", [healthy, converged, noisy_but_improving])
def test_no_slow_convergence_on_a_normal_curve(build: object) -> None:
    ctx = context(build())  # type: ignore[operator]
    assert slow_mod.detect(ctx, plateau_mod.analyse(ctx)) is None
