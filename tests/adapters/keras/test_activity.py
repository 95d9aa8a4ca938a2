"""Dead units of ReLU layers, also inside nested models, counted on data with known answers."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from plateau_cli.adapters.keras.activity import relu_layers, unit_activity  # noqa: E402

pytestmark = pytest.mark.keras

FEATURES = 6


def _set(layer, bias) -> None:
    """Zero kernel, given bias: the layer outputs its bias whatever the input."""
    kernel, _ = layer.get_weights()
    layer.set_weights([np.zeros_like(kernel), np.asarray(bias, "float32")])


def _base() -> keras.Model:
    """A functional base: a ReLU layer, a Dense(relu) and an Activation('relu')."""
    inputs = keras.Input((FEATURES,))
    x = keras.layers.Dense(4, name="d")(inputs)
    x = keras.layers.ReLU(name="r")(x)
    x = keras.layers.Dense(5, activation="relu", name="dr")(x)
    x = keras.layers.Dense(3, name="lin")(x)
    outputs = keras.layers.Activation("relu", name="act")(x)
    base = keras.Model(inputs, outputs, name="base")
    _set(base.get_layer("d"), [-1, -1, 1, 1])  # r: 2 of 4 dead
    _set(base.get_layer("dr"), [-1, 1, 1, 1, 1])  # dr: 1 of 5 dead
    _set(base.get_layer("lin"), [-1, 2, -3])  # act: 2 of 3 dead
    return base


def _tail() -> keras.Sequential:
    """A nested Sequential (its layers live in its own `_functional` graph)."""
    tail = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, activation="relu", name="s1")], name="tail"
    )
    _set(tail.get_layer("s1"), [-1, 1])  # s1: 1 of 2 dead
    return tail


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((FEATURES,))
    x = _base()(inputs)
    x = _tail()(x)
    x = keras.layers.Dense(4, activation="relu", name="head")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="out")(x)
    model = keras.Model(inputs, outputs)
    _set(model.get_layer("head"), [-1, -2, 0.5, 0.5])  # head: 2 of 4 dead
    return model


def _batches() -> list[tuple[np.ndarray, np.ndarray]]:
    x = np.random.default_rng(0).normal(size=(40, FEATURES)).astype("float32")
    return [(x[:32], np.zeros(32)), (x[32:], np.zeros(8))]


def test_relu_layers_of_nested_models_are_counted_by_their_path():
    found = {
        u.layer: (u.activation, u.units, u.dead, u.nested, u.samples)
        for u in unit_activity(_model(), _batches())
    }
    assert found == {
        "head": ("relu", 4, 2, False, 40),
        "base/r": ("relu", 4, 2, True, 40),
        "base/dr": ("relu", 5, 1, True, 40),
        "base/act": ("relu", 3, 2, True, 40),
        "tail/s1": ("relu", 2, 1, True, 40),
    }


def test_top_level_only_when_asked_and_for_revive():
    model = _model()
    assert [u.layer for u in unit_activity(model, _batches(), nested=False)] == ["head"]
    assert [layer.name for layer, _ in relu_layers(model)] == ["head"]


def test_a_nested_model_that_gives_the_output_keeps_its_output_layer_out():
    inputs = keras.Input((FEATURES,))
    model = keras.Model(inputs, _base()(inputs))
    assert [u.layer for u in unit_activity(model, _batches())] == ["base/r", "base/dr"]


def test_probing_adds_no_node_to_the_users_layers():
    model = _model()
    base = model.get_layer("base")
    before = {layer.name: len(layer._inbound_nodes) for layer in base.layers}
    unit_activity(model, _batches())
    assert {layer.name: len(layer._inbound_nodes) for layer in base.layers} == before


def test_relu6_layers_are_named_so():
    inputs = keras.Input((FEATURES,))
    x = keras.layers.ReLU(6.0, name="r6")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(x))
    (unit,) = unit_activity(model, _batches())
    assert (unit.layer, unit.activation, unit.units) == ("r6", "relu6", FEATURES)


def test_a_base_inside_a_sequential_model():
    """`keras.Sequential([base, ...])`: the outer graph is the Sequential's own."""
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            _base(),
            keras.layers.Dense(2, activation="softmax", name="out"),
        ]
    )
    found = {u.layer: (u.units, u.dead) for u in unit_activity(model, _batches())}
    assert found == {"base/r": (4, 2), "base/dr": (5, 1), "base/act": (3, 2)}
