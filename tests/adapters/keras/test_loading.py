"""Loading: compile state kept, and the optimizer state's fate reported instead of logged."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from plateau_cli.adapters.base import OptimizerState  # noqa: E402
from plateau_cli.adapters.keras.loading import SKIP_PATTERN  # noqa: E402
from plateau_cli.errors import UsageError  # noqa: E402
from tests.adapters.keras import builders  # noqa: E402

pytestmark = pytest.mark.keras


def _moments(optimizer) -> list[np.ndarray]:
    """Adam's slot variables in creation order (their names differ between builds)."""
    return [
        np.array(v.numpy())
        for v in optimizer.variables
        if v.path.endswith(("_momentum", "_velocity"))
    ]


def _assert_same(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b) == 8
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_keras_round_trip_restores_the_optimizer(trained_keras, trained_model):
    handle = builders.load(trained_keras)
    info = handle.describe().optimizer
    assert info.state is OptimizerState.RESTORED
    assert info.name == "Adam"
    assert info.iterations == int(trained_model.optimizer.iterations) == 8
    assert info.learning_rate == pytest.approx(0.001)
    assert info.hyperparameters["beta_1"] == pytest.approx(0.9)
    _assert_same(_moments(handle.model.optimizer), _moments(trained_model.optimizer))
    assert np.abs(_moments(handle.model.optimizer)[0]).sum() > 0


def test_h5_optimizer_is_rebuilt_over_the_trainable_variables(trained_h5, trained_model):
    # Keras 3.15 alone builds an .h5 optimizer over no variables: moments dropped, and the
    # next fit() fails with "Unknown variable". The adapter restores them and fit() works.
    handle = builders.load(trained_h5)
    info = handle.describe().optimizer
    assert info.state is OptimizerState.RESTORED
    assert info.iterations == 8
    _assert_same(_moments(handle.model.optimizer), _moments(trained_model.optimizer))
    data = builders.blobs()
    handle.model.fit(data.train.x, data.train.y, epochs=1, batch_size=40, verbose=0)
    assert int(handle.model.optimizer.iterations) == 11
    assert any("legacy .h5 input" in note for note in handle.describe().notes)


def test_trainable_change_before_saving_is_reported_as_skipped(skipped_keras):
    # What Keras itself does: a UserWarning, and an optimizer silently starting from zero.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        keras.models.load_model(skipped_keras)
    assert any(SKIP_PATTERN.search(str(w.message)) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the adapter lets nothing escape
        handle = builders.load(skipped_keras)
    info = handle.describe().optimizer
    assert info.state is OptimizerState.SKIPPED
    assert info.iterations == 0
    assert "10 variables after 4 steps" in info.detail
    assert "has 6" in info.detail
    assert "trainable weights changed" in info.detail


def test_model_saved_before_training_has_absent_state(untrained_keras):
    info = builders.load(untrained_keras).describe().optimizer
    assert info.state is OptimizerState.ABSENT
    assert "before its first training step" in info.detail


def test_uncompiled_model_needs_a_loss(uncompiled_keras):
    with pytest.raises(UsageError) as caught:
        builders.load(uncompiled_keras)
    assert str(caught.value) == (
        "uncompiled.keras was saved without compile(); pass --loss (e.g."
        " sparse_categorical_crossentropy) and optionally --optimizer/--lr"
    )


def test_uncompiled_model_is_compiled_from_the_options(uncompiled_keras):
    handle = builders.load(uncompiled_keras, loss="sparse_categorical_crossentropy", lr=0.01)
    description = handle.describe()
    assert description.loss == "sparse_categorical_crossentropy"
    assert description.metrics == ("accuracy",)  # added for a classification loss
    assert description.optimizer.name == "Adam"
    assert description.optimizer.learning_rate == pytest.approx(0.01)
    assert description.optimizer.state is OptimizerState.ABSENT
    handle = builders.load(uncompiled_keras, loss="mse", optimizer="sgd")
    assert handle.describe().metrics == ()
    assert handle.describe().optimizer.name == "SGD"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"loss": "crossentropy_of_doom"}, "unknown loss 'crossentropy_of_doom'; use a Keras"),
        ({"loss": "mse", "optimizer": "adamx"}, "unknown optimizer 'adamx'; use one of adam,"),
    ],
)
def test_bad_compile_options_are_usage_errors(uncompiled_keras, options, message):
    with pytest.raises(UsageError, match=message):
        builders.load(uncompiled_keras, **options)


def test_optimizer_option_replaces_the_saved_one(trained_keras):
    handle = builders.load(trained_keras, optimizer="sgd", lr=0.05)
    info = handle.describe().optimizer
    assert (info.name, info.state, info.iterations) == ("SGD", OptimizerState.RESET, 0)
    assert info.learning_rate == pytest.approx(0.05)
    assert any("optimizer Adam -> SGD (--optimizer)" in n for n in handle.describe().notes)


def test_keras2_h5_with_its_optimizer_layout_is_skipped(tmp_path: Path):
    path = builders.keras2_h5(tmp_path / "old.h5", "sequential", optimizer_steps=42)
    handle = builders.load(path)
    description = handle.describe()
    assert description.optimizer.state is OptimizerState.SKIPPED
    assert "Keras 2.15.0 stores optimizer state in another layout" in description.optimizer.detail
    assert description.extra["keras_version"] == "2.15.0"
    assert "written by Keras 2.15.0, loaded with Keras 3" in " ".join(description.notes)
    data = builders.blobs()
    handle.model.fit(data.train.x, data.train.y, epochs=1, batch_size=40, verbose=0)


def test_a_keras_file_under_another_name_loads(trained_keras, tmp_path: Path):
    renamed = tmp_path / "checkpoint.bin"
    renamed.write_bytes(trained_keras.read_bytes())
    assert builders.load(renamed).describe().optimizer.iterations == 8
