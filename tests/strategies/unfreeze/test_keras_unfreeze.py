"""Keras: the unfrozen layers move at exactly `mult` times the head's rate, and what is saved.

A tiny model with a nested frozen base (dense, BatchNorm, dense) and a dense head, loaded
through the adapter as `resume` loads it; one training step is compared with gradients taken
by hand at the same weights.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from plateau_cli.adapters.base import LoadOptions  # noqa: E402
from plateau_cli.adapters.keras.adapter import KerasAdapter  # noqa: E402
from plateau_cli.adapters.sniff import sniff_checkpoint  # noqa: E402
from plateau_cli.errors import StrategyNotApplicableError  # noqa: E402
from plateau_cli.monitor import Monitor  # noqa: E402
from plateau_cli.strategies import StrategyContext, build_strategy  # noqa: E402

pytestmark = pytest.mark.keras
RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 6)).astype("float32")
Y = RNG.integers(0, 3, size=16)
CONTEXT = StrategyContext(Monitor.for_metric("val_loss", 0.0), 1, 0, 16)


def _model(optimizer: Any, steps: int) -> Any:
    keras.utils.set_random_seed(0)
    base = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(5, name="d1"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Dense(4, activation="tanh", name="d2"),
        ],
        name="base",
    )
    inputs = keras.Input((6,))
    model = keras.Model(
        inputs, keras.layers.Dense(3, activation="softmax", name="head")(base(inputs))
    )
    base.trainable = False
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    for _ in range(steps):
        model.train_on_batch(X, Y)
    return model


def _load(path: Path) -> Any:
    return KerasAdapter().load(path, sniff_checkpoint(path).format, LoadOptions())


def _saved(tmp_path: Path, optimizer: Any, steps: int = 3) -> Path:
    path = tmp_path / "frozen.keras"
    _model(optimizer, steps).save(path)
    return path


def _gradients(model: Any) -> dict[str, np.ndarray]:
    with tf.GradientTape() as tape:
        loss = keras.losses.SparseCategoricalCrossentropy()(Y, model(X, training=True))
    variables = model.trainable_variables
    return {
        v.path: g.numpy() for v, g in zip(variables, tape.gradient(loss, variables), strict=True)
    }


def _weights(model: Any) -> dict[str, np.ndarray]:
    return {v.path: v.numpy().copy() for v in model.weights}


def test_sgd_step_is_exactly_lr_times_mult_for_the_unfrozen_layers(tmp_path):
    handle = _load(_saved(tmp_path, keras.optimizers.SGD(learning_rate=0.1)))
    outcome = build_strategy("unfreeze", {"layers": "all"}).apply(handle, None, CONTEXT)
    assert outcome.details["unfrozen"] == ["base/d2", "base/d1"]
    assert outcome.details["kept_in_inference_mode"] == ["base/bn"]
    model = handle.model
    before, grads = _weights(model), _gradients(model)
    assert sorted(grads) == [
        "d1/bias",
        "d1/kernel",
        "d2/bias",
        "d2/kernel",
        "head/bias",
        "head/kernel",
    ]
    model.train_on_batch(X, Y)
    after = _weights(model)
    for path, grad in grads.items():
        rate = 0.1 if path.startswith("head") else 0.1 * 0.3
        # float32 weights near 1: the difference is exact to about one ulp (1.2e-7)
        np.testing.assert_allclose(before[path] - after[path], rate * grad, rtol=1e-5, atol=2e-7)
    for path in ("bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"):
        np.testing.assert_array_equal(after[path], before[path])


def test_train_bn_trains_the_batchnorm_with_batch_statistics(tmp_path):
    handle = _load(_saved(tmp_path, keras.optimizers.SGD(learning_rate=0.1)))
    outcome = build_strategy("unfreeze", {"layers": "all", "train_bn": True}).apply(
        handle, None, CONTEXT
    )
    assert outcome.details["unfrozen"] == ["base/d2", "base/d1", "base/bn"]
    before = _weights(handle.model)
    handle.model.train_on_batch(X, Y)
    after = _weights(handle.model)
    for path in ("bn/gamma", "bn/moving_mean"):
        assert np.abs(after[path] - before[path]).max() > 1e-4


def test_adam_group_starts_at_step_one_while_the_head_continues(tmp_path):
    handle = _load(_saved(tmp_path, keras.optimizers.Adam(learning_rate=0.01), steps=50))
    head = handle.model.optimizer
    head_moment = next(v for v in head.variables if v.name == "head_kernel_momentum").numpy()
    build_strategy("unfreeze", {"layers": "1"}).apply(handle, None, CONTEXT)
    model = handle.model
    before, grads = _weights(model), _gradients(model)
    model.train_on_batch(X, Y)
    delta = before["d2/kernel"] - _weights(model)["d2/kernel"]
    # Keras' Adam at step 1 moves by lr * g / (|g| + eps / sqrt(1 - beta_2)): the group's own
    # step count starts at 1 (sharing the head's count of 51, it would come out at 0.7x).
    grad = grads["d2/kernel"]
    expected = 0.003 * grad / (np.abs(grad) + 1e-7 / np.sqrt(1 - 0.999))
    np.testing.assert_allclose(delta, expected, rtol=1e-3, atol=2e-7)
    assert int(head.iterations) == 51  # the loaded optimizer took the step, from its own count
    moment = next(v for v in head.variables if v.name == "head_kernel_momentum").numpy()
    np.testing.assert_allclose(moment, 0.9 * head_moment + 0.1 * grads["head/kernel"], rtol=1e-5)
    np.testing.assert_array_equal(_weights(model)["d1/kernel"], before["d1/kernel"])


def test_saved_model_holds_one_standard_optimizer_with_every_groups_moments(tmp_path):
    handle = _load(_saved(tmp_path, keras.optimizers.Adam(learning_rate=0.01), steps=5))
    strategy = build_strategy("unfreeze", {"layers": "all", "base_lr_mult": 0.5})
    outcome = strategy.apply(handle, None, CONTEXT)
    assert outcome.optimizer_state.value == "partial"
    handle.model.train_on_batch(X, Y)
    handle.model.train_on_batch(X, Y)
    live: dict[str, np.ndarray] = {}
    for optimizer in (
        handle.model.optimizer,
        *(g.optimizer for g in strategy._surgeon.router.groups),
    ):
        live |= {v.name: v.numpy() for v in optimizer.variables}
    handle.save(tmp_path / "out.keras", epochs_done=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = keras.models.load_model(tmp_path / "out.keras")
    assert not caught
    assert type(written.optimizer).__name__ == "Adam"
    assert int(written.optimizer.iterations) == 7
    assert float(written.optimizer.learning_rate) == pytest.approx(0.01)
    saved = {v.name: v.numpy() for v in written.optimizer.variables}
    slots = sorted(name for name in saved if name not in ("iteration", "learning_rate"))
    assert slots == sorted(
        f"{var}_{slot}"
        for var in ("d1_kernel", "d1_bias", "d2_kernel", "d2_bias", "head_kernel", "head_bias")
        for slot in ("momentum", "velocity")
    )
    for name in slots:
        np.testing.assert_array_equal(saved[name], live[name])
        assert np.abs(saved[name]).max() > 0
    flags = {layer.name: layer.trainable for layer in written.get_layer("base").layers}
    assert flags == {"d1": True, "bn": False, "d2": True}
    written.fit(X, Y, epochs=1, verbose=0)  # a user's script trains on from it


def test_a_schedule_on_the_head_is_followed_at_the_multiple(tmp_path):
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    handle = _load(_saved(tmp_path, keras.optimizers.SGD(learning_rate=schedule), steps=2))
    build_strategy("unfreeze", {"layers": "1"}).apply(handle, None, CONTEXT)
    model = handle.model
    before, grads = _weights(model), _gradients(model)
    model.train_on_batch(X, Y)
    rate = 0.1 * 0.5**2 * 0.3  # the head's schedule at its step 2, times the multiple
    delta = before["d2/kernel"] - _weights(model)["d2/kernel"]
    np.testing.assert_allclose(delta, rate * grads["d2/kernel"], rtol=1e-5, atol=2e-7)


def test_only_batchnorm_frozen_asks_for_train_bn(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(4, name="d"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ]
    )
    model.get_layer("bn").trainable = False
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.train_on_batch(X, Y)
    model.save(tmp_path / "bn.keras")
    handle = _load(tmp_path / "bn.keras")
    with pytest.raises(
        StrategyNotApplicableError,
        match=r"only frozen layers of bn.keras are BatchNorm \(bn, 8 parameters\).*--train-bn",
    ):
        build_strategy("unfreeze", {}).apply(handle, None, CONTEXT)
    outcome = build_strategy("unfreeze", {"train_bn": True}).apply(
        _load(tmp_path / "bn.keras"), None, CONTEXT
    )
    assert outcome.details["unfrozen"] == ["bn"]
