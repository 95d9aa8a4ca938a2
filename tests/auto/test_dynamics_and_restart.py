"""auto's dynamics split (divergence after learning -> augment; a run broken from
its first epochs -> lr-decay) and its restart rule, each with the evidence that decides it; and
that diagnose's recommendation for the same log names the same strategy."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import pytest

from plateau_cli.auto import choose
from plateau_cli.auto.evidence import saturating_layers
from plateau_cli.auto.rules import NOTHING, RATE_GAP, needs_range_test
from plateau_cli.diagnose import diagnose
from plateau_cli.diagnose.base import DiagnoseOptions, FindingKind
from plateau_cli.history import history_from_rows
from tests.auto.test_rules import evidence


def _diverged_after(good_epochs: int):
    rows = [
        {"loss": 2.0 / (e + 1), "val_loss": 2.1 / (e + 1), "accuracy": 0.5 + 0.04 * e}
        for e in range(good_epochs)
    ]
    rows += [
        {"loss": 40.0 * (k + 1), "val_loss": 45.0 * (k + 1), "accuracy": 0.2} for k in range(4)
    ]
    return diagnose(history_from_rows(rows), DiagnoseOptions(num_classes=10))


def test_divergence_after_learning_gets_augment_in_diagnose_and_auto():
    diagnosis = _diverged_after(8)
    assert diagnosis.verdict is FindingKind.DIVERGENCE
    assert diagnosis.recommendation.strategy.value == "augment"
    choice = choose(evidence(diagnosis=diagnosis))
    assert (choice.strategy, choice.rule) == ("augment", "dynamics")
    assert "lr-decay" in choice.alternatives


def test_divergence_from_the_first_epoch_keeps_lr_decay():
    diagnosis = _diverged_after(1)
    assert diagnosis.verdict is FindingKind.DIVERGENCE
    assert diagnosis.recommendation.strategy.value == "lr-decay"
    assert choose(evidence(diagnosis=diagnosis)).strategy == "lr-decay"


def _sigmoid_stack(loss: float, layers: int = 8, actions_log=None):
    return evidence(
        train_loss=loss,
        val_loss=loss + 0.001,
        chance_loss=math.log(2),
        classes=2,
        saturating_layers=layers,
        diagnosis=actions_log,
    )


def test_loss_at_chance_in_a_sigmoid_stack_means_restart():
    choice = choose(_sigmoid_stack(0.67))  # breast_cancer's prior: 0.66, ln 2 = 0.693
    assert (choice.strategy, choice.rule) == (NOTHING, "restart")
    for words in ("ReLU", "batch normalisation", "residual", "restart from scratch", "8 sigmoid"):
        assert words in choice.reason


@pytest.mark.parametrize(
    ("loss", "layers"),
    [(0.5, 8), (0.67, 2), (0.67, 0)],  # learned something; shallow; no saturating layer
)
def test_no_restart_without_both_signs(loss, layers):
    assert choose(_sigmoid_stack(loss, layers)).rule != "restart"


def test_restart_outranks_the_imbalance_rule():
    e = _sigmoid_stack(0.67)
    e = type(e)(**{**e.__dict__, "health": {"class-imbalance": "3:1"}})
    assert choose(e).rule == "restart"


def test_a_log_whose_recommendation_is_restart_gets_restart():
    # exploded in epoch 1, then pinned at ln 10 with accuracy frozen: diagnose says restart
    rows = [{"loss": 900.0, "val_loss": 950.0, "accuracy": 0.1, "val_accuracy": 0.1}]
    rows += [
        {"loss": 2.3026, "val_loss": 2.3026, "accuracy": 0.1, "val_accuracy": 0.1}
        for _ in range(14)
    ]
    diagnosis = diagnose(history_from_rows(rows), DiagnoseOptions(num_classes=10))
    assert "restart" in [a.id.value for a in diagnosis.recommendation.actions]
    choice = choose(evidence(diagnosis=diagnosis))
    assert (choice.strategy, choice.rule) == (NOTHING, "restart")


def test_saturating_layers_counts_torch_modules_and_keras_activations():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    model = nn.Sequential(nn.Linear(4, 4), nn.Sigmoid(), nn.Linear(4, 4), nn.Tanh(), nn.ReLU())
    assert saturating_layers(SimpleNamespace(model=model)) == 2

    def sigmoid(x):
        return x

    def relu(x):
        return x

    keras_like = SimpleNamespace(
        layers=[SimpleNamespace(activation=sigmoid), SimpleNamespace(activation=relu)]
    )
    assert saturating_layers(SimpleNamespace(model=keras_like)) == 1
    assert saturating_layers(SimpleNamespace()) == 0


def test_swings_beside_an_overfitting_verdict_leave_the_choice_to_overfitting():
    rows = []
    for e in range(40):
        swing = 0.15 * (1 if e % 2 else -1) if 10 <= e < 20 else 0.0
        rows.append({"loss": 0.01 + 2.0 * math.exp(-e / 4), "val_loss": 0.5 + 0.02 * e + swing})
    diagnosis = diagnose(history_from_rows(rows), DiagnoseOptions(num_classes=10))
    assert diagnosis.verdict is FindingKind.OVERFITTING
    assert FindingKind.OSCILLATION in {f.kind for f in diagnosis.findings}
    choice = choose(evidence(diagnosis=diagnosis, train_loss=0.01, val_loss=1.3))
    assert (choice.strategy, choice.rule) == ("augment", "overfitting")


def _restart_log():
    # the zoo's too-low-lr CNN on shapes: pinned at ln 4 and still moving, SGD at 1e-4
    rows = [
        {"loss": 1.3939 - 0.0003 * e, "val_loss": 1.38589 - 0.00013 * e, "val_accuracy": 0.31}
        for e in range(10)
    ]
    diagnosis = diagnose(history_from_rows(rows), DiagnoseOptions(num_classes=4))
    assert "restart" in [a.id.value for a in diagnosis.recommendation.actions]
    return diagnosis


def test_a_range_test_far_above_the_rate_overrules_the_logs_restart():
    e = evidence(
        diagnosis=_restart_log(),
        learning_rate=1e-4,
        train_loss=1.391,
        val_loss=1.385,
        chance_loss=math.log(4),
        classes=4,
    )
    assert needs_range_test(e)
    choice = choose(dataclasses.replace(e, range_lr=0.0085))  # 85x the restored rate
    assert (choice.strategy, choice.rule) == ("lr-find", "rate-far-too-low")
    assert "85 times" in choice.reason
    # a rate found, but not far above (RATE_GAP): the log's restart stands
    near = dataclasses.replace(e, range_lr=1e-4 * (RATE_GAP - 1))
    assert choose(near).rule == "restart"
    # no rate found (or the test not run): restart
    assert choose(e).rule == "restart"
    assert dataclasses.replace(e, range_lr=0.0085).to_json()["range_test_lr"] == 0.0085


def test_a_vanishing_stack_keeps_restart_whatever_a_range_test_says():
    e = _sigmoid_stack(0.67, actions_log=_restart_log())
    assert not needs_range_test(e)  # the checkpoint decides: the test is not even run
    choice = choose(dataclasses.replace(e, range_lr=1.0, learning_rate=1e-4))
    assert (choice.strategy, choice.rule) == (NOTHING, "restart")
