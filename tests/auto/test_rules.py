"""auto's rules on hand-made evidence: each rule fires on its symptom and not without it."""

from __future__ import annotations

import math

import pytest

from plateau_cli.adapters.base import UnitActivity
from plateau_cli.auto import Evidence, choose
from plateau_cli.diagnose import diagnose
from plateau_cli.diagnose.base import DiagnoseOptions
from plateau_cli.history import history_from_rows


def evidence(**changes) -> Evidence:
    base = {
        "train_loss": 0.2,
        "val_loss": 0.25,
        "train_accuracy": 0.93,
        "val_accuracy": 0.91,
        "chance_loss": math.log(10),
        "classes": 10,
        "trainable_params": 5000,
        "frozen_params": 0,
        "learning_rate": 1e-3,
        "narrowest": ("hidden", 64),
        "narrowest_note": None,
    }
    return Evidence(**(base | changes))


def test_a_moderate_plateau_gets_lr_decay():
    choice = choose(evidence())
    assert (choice.strategy, choice.rule) == ("lr-decay", "default")


def test_frozen_parameters_get_unfreeze():
    choice = choose(evidence(frozen_params=20_000))
    assert (choice.strategy, choice.rule) == ("unfreeze", "frozen-base")
    assert "20,000 parameters" in choice.reason


def test_frozen_but_overfitting_is_not_unfrozen():
    choice = choose(evidence(frozen_params=20_000, train_loss=0.004, val_loss=0.3))
    assert (choice.strategy, choice.rule) == ("augment", "overfitting")


@pytest.mark.parametrize(("dead", "expected"), [(61, "revive"), (20, "lr-decay")])
def test_dead_units(dead, expected):
    activity = (UnitActivity("hidden", "relu", 64, dead, 1437),)
    assert choose(evidence(dead=activity)).strategy == expected


def test_memorised_training_data_gets_augment():
    choice = choose(evidence(train_loss=0.003, val_loss=0.30))
    assert (choice.strategy, choice.rule) == ("augment", "overfitting")


def test_a_gap_at_tiny_losses_is_not_overfitting():
    # 0.001 vs 0.01: ten times, but 0.4% of ln 10 apart: converged, not memorised.
    assert choose(evidence(train_loss=0.001, val_loss=0.01)).rule != "overfitting"


@pytest.mark.parametrize(("width", "expected"), [(4, "widen"), (9, "widen"), (10, "lr-decay")])
def test_bottleneck_narrower_than_the_classes(width, expected):
    assert choose(evidence(narrowest=("hidden", width))).strategy == expected


def test_nothing_widenable_does_not_choose_widen():
    choice = choose(evidence(narrowest=None, narrowest_note="no hidden layer"))
    assert choice.strategy == "lr-decay"


def _oscillating_log():
    rows = []
    for epoch in range(30):
        swing = 0.3 if epoch % 2 else -0.3
        rows.append(
            {
                "loss": 1.0 + (swing if epoch > 5 else 0) + 1.0 / (epoch + 1),
                "val_loss": 1.1 + (swing if epoch > 5 else 0) + 1.0 / (epoch + 1),
                "accuracy": 0.6 + 0.001 * epoch,
                "val_accuracy": 0.55 + 0.001 * epoch,
            }
        )
    return history_from_rows(rows)


def test_the_log_dynamics_win_over_the_checkpoint():
    diagnosis = diagnose(_oscillating_log(), DiagnoseOptions(num_classes=10))
    choice = choose(evidence(frozen_params=20_000, diagnosis=diagnosis))
    assert (choice.strategy, choice.rule) == ("lr-decay", "dynamics")
    assert choice.strategy == diagnosis.recommendation.strategy.value
    assert "oscillation" in choice.reason
