"""auto's rules for the new strategies, on hand-made evidence and on logs diagnosed by
diagnose itself (so auto's log-based choice is diagnose's recommendation)."""

from __future__ import annotations

import dataclasses

from plateau_cli.auto import choose
from plateau_cli.auto.rules import RATE_GAP, needs_range_test
from plateau_cli.diagnose import diagnose
from plateau_cli.diagnose.base import DiagnoseOptions, FindingKind
from plateau_cli.history import history_from_rows
from tests.auto.test_rules import evidence


def test_class_imbalance_from_the_health_check_gets_rebalance():
    choice = choose(evidence(health={"class-imbalance": "9:1 majority class."}))
    assert (choice.strategy, choice.rule) == ("rebalance", "imbalance")
    assert "balanced accuracy" in choice.reason


def test_imbalance_at_a_rate_far_too_low_gets_lr_find_first():
    # the zoo's tune half: MLP digits at SGD 1e-3, the range test found ~0.6 (x600);
    # lr-find 0.001 (1 - balanced accuracy) against rebalance 0.389
    imbalanced = evidence(health={"class-imbalance": "9:1 majority class."}, learning_rate=1e-3)
    assert needs_range_test(imbalanced)
    choice = choose(dataclasses.replace(imbalanced, range_lr=0.6))
    assert (choice.strategy, choice.rule) == ("lr-find", "rate-far-too-low")
    assert "600 times" in choice.reason
    assert "balanced accuracy" in choice.reason
    assert choice.alternatives == ("rebalance",)
    # a rate found, within RATE_GAP of the restored one, or none: class weights
    for found in (1e-3 * (RATE_GAP - 1), None):
        assert choose(dataclasses.replace(imbalanced, range_lr=found)).rule == "imbalance"
    # balanced classes and a log that names no restart: no range test is run at all
    assert not needs_range_test(evidence())


def test_unnormalised_inputs_get_normalize():
    # measured on the zoo's tune half: normalize (fold, rescaled units, rate found again)
    # 0.97 against widen 26.8 and continue 34.7
    choice = choose(evidence(health={"unnormalised-inputs": "features at ~1e3."}))
    assert (choice.strategy, choice.rule) == ("normalize", "input-scale")
    assert "widen" in choice.alternatives


def test_without_health_warnings_neither_fires():
    assert choose(evidence(health={"duplicates": "x"})).strategy == "lr-decay"


def _slow_log():
    # loss falling steadily but slowly, far from converged, no noise
    rows = [
        {"loss": 2.0 - 0.02 * e, "val_loss": 2.05 - 0.02 * e, "accuracy": 0.2 + 0.005 * e}
        for e in range(30)
    ]
    return history_from_rows(rows)


def _converged_log():
    rows = [
        {"loss": 0.05 + 0.5 / (e + 1) ** 2, "val_loss": 0.07 + 0.5 / (e + 1) ** 2}
        for e in range(40)
    ]
    return history_from_rows(rows)


def test_a_slow_log_never_gets_a_lower_rate():
    diagnosis = diagnose(_slow_log(), DiagnoseOptions(num_classes=10))
    assert diagnosis.verdict is FindingKind.SLOW_CONVERGENCE
    choice = choose(evidence(diagnosis=diagnosis, learning_rate=1e-4))
    assert (choice.strategy, choice.rule) == ("lr-find", "slow-convergence")


def test_a_converged_log_gets_nothing_to_change():
    diagnosis = diagnose(_converged_log(), DiagnoseOptions(num_classes=10))
    choice = choose(evidence(diagnosis=diagnosis))
    assert diagnosis.verdict in (FindingKind.CONVERGED, FindingKind.HEALTHY)
    assert (choice.strategy, choice.rule) == ("none", "nothing-to-change")
    assert "nothing to change" in choice.reason


def test_dead_units_outrank_overfitting_and_bottleneck():
    from plateau_cli.adapters.base import UnitActivity

    dead = (UnitActivity("hidden", "relu", 8, 7, 100),)
    choice = choose(evidence(dead=dead, narrowest=("hidden", 8), train_loss=0.01, val_loss=0.3))
    assert choice.strategy == "revive"


def _rollback(best: float, last: float, metric: str = "val_loss") -> dict:
    return {"file": "epoch_7.pt", "best_epoch": 7, "best_value": best, "last_epoch": 12,
            "last_value": last, "metric": metric}  # fmt: skip


def test_a_log_past_its_best_with_that_epochs_file_gets_regularize():
    # measured on the zoo's tune half: roll-back + regularize beat auto's earlier pick on 5 of
    # the 6 plateaus where this fires (benchmarks/zoo/README.md), before imbalance
    choice = choose(
        evidence(rollback=_rollback(0.74, 0.79), health={"class-imbalance": "9:1 majority."})
    )
    assert (choice.strategy, choice.rule) == ("regularize", "past-best")
    assert "epoch_7.pt" in choice.reason


def test_a_log_only_slightly_past_its_best_keeps_the_other_rules():
    assert choose(evidence(rollback=_rollback(1.411, 1.436))).rule != "past-best"  # 1.8%
    assert choose(evidence(rollback=_rollback(0.9, 0.88, "val_accuracy"))).rule != "past-best"
    got = choose(evidence(rollback=_rollback(0.9, 0.8, "val_accuracy")))
    assert got.rule == "past-best"
