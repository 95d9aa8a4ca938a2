"""Findings -> strategy, reason, alternatives, actions; and the next command."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_cli.diagnose import ActionId, DiagnoseOptions, StrategyName, diagnose
from plateau_cli.diagnose.next_command import next_command
from tests.diagnose.diagnose_cases import (
    CASES,
    converged,
    explosion,
    frozen_accuracy,
    healthy,
    history,
    moderate_plateau,
    nan_divergence,
    oscillating,
    oscillation_then_plateau,
    overfitting,
    plateau_with_gap,
    slow_steady,
    stuck_at_ln10,
    underfitting,
)

S, A = StrategyName, ActionId


def _ids(diagnosis: object) -> list[ActionId]:
    return [a.id for a in diagnosis.recommendation.actions]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("build", "strategy", "actions"),
    [
        (nan_divergence, S.LR_DECAY, [A.RESTORE_BEST]),
        (explosion, S.AUGMENT, [A.RESTORE_BEST]),  # finite, after 6 good epochs
        (stuck_at_ln10, S.NONE, [A.CHECK_DATA, A.NORMALIZE_INPUTS, A.INSPECT]),
        (frozen_accuracy, S.REBALANCE, [A.REBALANCE, A.CHECK_DATA]),
        (overfitting, S.AUGMENT, [A.RESTORE_BEST, A.REGULARIZE]),
        (oscillating, S.LR_DECAY, []),
        (underfitting, S.WIDEN, [A.CHECK_FROZEN]),
        (plateau_with_gap, S.AUGMENT, [A.REGULARIZE]),
        (moderate_plateau, S.LR_DECAY, []),
        (slow_steady, S.LR_FIND, [A.RAISE_LR]),
        (converged, S.NONE, [A.STOP]),
        (healthy, S.NONE, []),
    ],
)
def test_strategy_and_actions(
    build: object, strategy: StrategyName, actions: list[ActionId]
) -> None:
    diagnosis = diagnose(build())  # type: ignore[operator]
    assert diagnosis.recommendation.strategy is strategy
    assert _ids(diagnosis)[: len(actions)] == actions
    assert diagnosis.recommendation.reason


def test_underfitting_offers_lr_decay_and_unfreeze_and_says_how_to_check_frozen() -> None:
    rec = diagnose(underfitting()).recommendation
    assert rec.alternatives == (S.LR_DECAY, S.UNFREEZE)
    check = next(a for a in rec.actions if a.id is A.CHECK_FROZEN)
    assert "plateau-cli inspect MODEL" in check.text


def test_restore_best_names_the_epoch() -> None:
    diagnosis = diagnose(overfitting())
    best = diagnosis.findings[0].evidence["best_epoch"]
    restore = next(a for a in diagnosis.recommendation.actions if a.id is A.RESTORE_BEST)
    assert f"epoch {best}" in restore.text


def test_divergence_restores_the_last_good_epoch() -> None:
    restore = next(a for a in diagnose(nan_divergence()).recommendation.actions)
    assert restore.id is A.RESTORE_BEST
    assert "epoch 11" in restore.text


def test_divergence_from_the_first_epoch_points_at_the_data() -> None:
    rec = diagnose(history(loss=[np.nan] * 6)).recommendation
    assert rec.strategy is S.LR_DECAY
    assert [a.id for a in rec.actions] == [A.CHECK_DATA, A.NORMALIZE_INPUTS]


def test_oscillation_followed_by_a_plateau_mentions_dead_units() -> None:
    rec = diagnose(oscillation_then_plateau()).recommendation
    assert rec.strategy is S.LR_DECAY
    assert "plateau-cli inspect MODEL --data DATA" in rec.reason
    assert "dead ReLU" in rec.reason
    assert S.WIDEN in rec.alternatives  # from the underfitting finding beside it


def test_ongoing_oscillation_does_not_mention_dead_units() -> None:
    assert "dead" not in diagnose(oscillating()).recommendation.reason


def test_a_loss_that_never_moves_asks_to_check_frozen_layers() -> None:
    rec = diagnose(history(loss=[0.7] * 8, val_loss=[0.71] * 8)).recommendation
    assert [a.id for a in rec.actions] == [A.CHECK_DATA, A.CHECK_FROZEN, A.INSPECT]


def test_no_learning_with_a_tiny_significant_slope_asks_to_raise_the_lr() -> None:
    t = np.arange(20)
    run = history(loss=2.0 - 0.0005 * t, val_loss=2.01 - 0.0005 * t)
    rec = diagnose(run).recommendation
    assert A.RAISE_LR in [a.id for a in rec.actions]


def test_stop_is_only_advised_when_the_verdict_is_converged() -> None:
    for case in CASES:
        diagnosis = diagnose(case.build(), case.options)
        if A.STOP in _ids(diagnosis):
            assert diagnosis.verdict.value == "converged", case.name


def test_action_ids_are_unique_per_recommendation() -> None:
    for case in CASES:
        ids = _ids(diagnose(case.build(), case.options))
        assert len(ids) == len(set(ids)), case.name


def test_next_command_uses_placeholders_or_the_given_paths() -> None:
    assert next_command(S.AUGMENT) == "plateau-cli resume MODEL --strategy augment --data DATA"
    assert (
        next_command(S.WIDEN, model="runs/my model.keras", data="d.npz")
        == "plateau-cli resume 'runs/my model.keras' --strategy widen --data d.npz"
    )
    assert next_command(S.NONE, model="m.keras", data="d.npz") is None


def test_recommendation_for_a_classifier_stuck_at_chance_with_num_classes() -> None:
    diagnosis = diagnose(stuck_at_ln10(), DiagnoseOptions(num_classes=10))
    assert diagnosis.findings[0].evidence["num_classes_source"] == "--num-classes"
    assert diagnosis.recommendation.strategy is S.NONE
