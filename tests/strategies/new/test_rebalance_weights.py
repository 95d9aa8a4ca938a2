"""rebalance's weighted loss in both frameworks: the value equals mean_i w[y_i] * loss_i computed
by hand, validation stays unweighted, and the mode option is validated before any framework."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_cli.errors import UsageError
from plateau_cli.strategies import build_strategy
from plateau_cli.strategies.rebalance.balance import class_weights
from plateau_cli.strategies.rebalance.options import Mode, Smoothing


def _case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(7, 3)).astype("float32")
    labels = np.array([0, 0, 0, 0, 1, 2, 0], dtype="int64")
    weights = class_weights(labels, 3, Smoothing.NONE)
    return logits, labels, weights


def _by_hand(logits: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
    z = logits.astype(np.float64)
    log_p = z - z.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    per = -log_p[np.arange(len(labels)), labels]
    return float(np.mean(weights[labels] * per))


def test_weights_have_mean_one_over_the_samples() -> None:
    _, labels, weights = _case()
    assert weights[labels].mean() == pytest.approx(1.0)
    assert weights[1] == pytest.approx(5 * weights[0])  # 5 of class 0, 1 of class 1


def test_mode_is_validated_before_any_framework() -> None:
    with pytest.raises(UsageError, match="--rebalance-mode"):
        build_strategy("rebalance", {"rebalance_mode": "oversample"})
    assert build_strategy("rebalance", {}).options.rebalance_mode is Mode.SAMPLE
    assert build_strategy("rebalance", {"rebalance_mode": "Weights"}).options.rebalance_mode is (
        Mode.WEIGHTS
    )


@pytest.mark.torch
def test_torch_weighted_cross_entropy_equals_the_hand_computation() -> None:
    torch = pytest.importorskip("torch")
    from plateau_cli.adapters.torch.losses import INDEX, infer_loss
    from plateau_cli.adapters.torch.structure import read_structure

    logits, labels, weights = _case()
    choice = infer_loss(labels, read_structure(torch.nn.Sequential(torch.nn.Linear(4, 3))))
    assert choice.target == INDEX
    weighted = choice.build(weights)(torch.tensor(logits), torch.tensor(labels))
    assert float(weighted) == pytest.approx(_by_hand(logits, labels, weights), rel=1e-6)
    plain = choice.build()(torch.tensor(logits), torch.tensor(labels))
    assert float(plain) == pytest.approx(_by_hand(logits, labels, np.ones(3)), rel=1e-6)


@pytest.mark.torch
def test_torch_weighted_binary_loss_weighs_by_the_0_1_target() -> None:
    torch = pytest.importorskip("torch")
    from plateau_cli.adapters.torch.losses import _choice

    logit = np.array([[0.3], [-1.2], [2.0], [0.1]], dtype="float32")
    target = np.array([[1.0], [0.0], [0.0], [0.0]], dtype="float32")
    weights = np.array([0.5, 2.0])
    got = _choice("bce-with-logits", "t").build(weights)(torch.tensor(logit), torch.tensor(target))
    p = 1 / (1 + np.exp(-logit.astype(np.float64)))
    per = -(target * np.log(p) + (1 - target) * np.log(1 - p))
    assert float(got) == pytest.approx(float(np.mean(weights[target.astype(int)] * per)), 1e-6)


@pytest.mark.keras
def test_keras_sample_weights_equal_the_hand_computation() -> None:
    keras = pytest.importorskip("keras")
    import tensorflow as tf

    from plateau_cli.strategies.rebalance.keras import weigher

    logits, labels, weights = _case()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Identity()])
    model.compile(
        optimizer="sgd",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    data = tf.data.Dataset.from_tensors((logits, labels)).map(weigher(weights))
    weighted = model.evaluate(data, verbose=0)
    assert weighted == pytest.approx(_by_hand(logits, labels, weights), rel=1e-5)
    plain = model.evaluate(tf.data.Dataset.from_tensors((logits, labels)), verbose=0)
    assert plain == pytest.approx(_by_hand(logits, labels, np.ones(3)), rel=1e-5)
