"""`inspect`'s view of a Keras model, and the IOSpec the data checks use."""

from __future__ import annotations

import pytest

keras = pytest.importorskip("keras")

from plateau_cli.data.base import Task  # noqa: E402
from tests.adapters.keras import builders  # noqa: E402

pytestmark = pytest.mark.keras


def test_describe_a_trained_mlp(trained_keras):
    description = builders.load(trained_keras).describe()
    assert description.framework == "keras"
    assert description.format == "keras-v3"
    assert [
        (r.name, r.kind, r.output_shape, r.params, r.trainable_params) for r in description.layers
    ] == [
        ("hidden", "Dense", "(None, 4)", 36, 36),
        ("out", "Dense", "(None, 3)", 15, 15),
    ]
    assert (description.trainable_params, description.frozen_params) == (51, 0)
    assert description.loss == "sparse_categorical_crossentropy"
    assert description.metrics == ("accuracy",)
    assert (description.input_shape, description.output_shape) == ((None, 8), (None, 3))
    assert description.extra["keras_version"] == keras.__version__
    assert description.extra["backend"] == "tensorflow"


def test_nested_frozen_base_shows_its_layers(tmp_path):
    inputs = keras.Input((builders.FEATURES,))
    x = keras.layers.Dense(6, activation="relu", name="b1")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    base = keras.Model(inputs, keras.layers.Dense(5, name="b2")(x), name="base")
    base.trainable = False
    model = keras.Sequential(
        [keras.Input((builders.FEATURES,)), base, keras.layers.Dense(3, name="head")]
    )
    model.compile(
        optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    path = builders.save(model, tmp_path / "nested.keras")
    description = builders.load(path).describe()
    rows = {r.name: r for r in description.layers}
    assert list(rows) == ["base", "base/b1", "base/bn", "base/b2", "head"]
    assert (rows["base"].kind, rows["base"].params, rows["base"].trainable_params) == (
        "Functional",
        54 + 24 + 35,
        0,
    )
    assert rows["base"].trainable is False
    assert rows["base/bn"].trainable is False
    assert rows["head"].trainable is True
    assert (description.trainable_params, description.frozen_params) == (18, 113)
    assert any("'model/layer'" in note for note in description.notes)
    assert any(
        "12 of the 113 frozen parameters are BatchNormalization" in n for n in description.notes
    )
    spec = builders.load(path).io_spec()
    assert (spec.task, spec.sparse_labels, spec.output_activation) == (
        Task.CLASSIFICATION,
        True,
        "linear",
    )


@pytest.mark.parametrize(
    ("loss", "units", "activation", "task", "sparse"),
    [
        ("sparse_categorical_crossentropy", 3, "softmax", Task.CLASSIFICATION, True),
        ("categorical_crossentropy", 3, "softmax", Task.CLASSIFICATION, False),
        (keras.losses.CategoricalCrossentropy(), 3, "softmax", Task.CLASSIFICATION, False),
        ("binary_crossentropy", 1, "sigmoid", Task.BINARY, True),
        ("binary_crossentropy", 4, "sigmoid", None, True),
        ("mse", 2, "linear", Task.REGRESSION, False),
        (keras.losses.MeanAbsoluteError(), 1, "linear", Task.REGRESSION, False),
    ],
)
def test_io_spec_infers_the_task_from_the_loss(tmp_path, loss, units, activation, task, sparse):
    model = keras.Sequential(
        [
            keras.Input((5, 5, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation=activation),
        ]
    )
    model.compile(optimizer="adam", loss=loss)
    handle = builders.load(builders.save(model, tmp_path / "m.keras"))
    spec = handle.io_spec()
    assert spec.input_shape == (5, 5, 2)
    assert spec.output_units == units
    assert spec.output_activation == activation
    assert (spec.task, spec.sparse_labels, spec.channels_last) == (task, sparse, True)
