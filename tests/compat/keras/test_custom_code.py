"""Custom layers and subclassed models, loaded with `--import` the user's module."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

from tests.compat.keras.cases import assert_metrics_equal, evaluated, report, resume, tabular
from tests.e2e.runner import run_cli

keras = pytest.importorskip("keras")

USER_CODE = textwrap.dedent(
    """
    import keras


    @keras.saving.register_keras_serializable(package="compat")
    class ScaledDense(keras.layers.Layer):
        def __init__(self, units, scale=1.0, **kwargs):
            super().__init__(**kwargs)
            self.units, self.scale = units, scale

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units))
            self.b = self.add_weight(shape=(self.units,), initializer="zeros")

        def call(self, x):
            return keras.ops.relu(keras.ops.matmul(x, self.w) * self.scale + self.b)

        def get_config(self):
            return {**super().get_config(), "units": self.units, "scale": self.scale}


    class MLPClassifier(keras.Model):  # not registered: passed as a custom object
        def __init__(self, hidden=16, classes=2, **kwargs):
            super().__init__(**kwargs)
            self.hidden, self.classes = hidden, classes
            self.body = keras.layers.Dense(hidden, activation="relu")
            self.head = keras.layers.Dense(classes, activation="softmax")

        def call(self, x):
            return self.head(self.body(x))

        def get_config(self):
            return {**super().get_config(), "hidden": self.hidden, "classes": self.classes}
    """
)


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    """The user's module, written to a file and imported as the training script would."""
    folder = tmp_path_factory.mktemp("user")
    path = folder / "compat_user_models.py"
    path.write_text(USER_CODE)
    spec = importlib.util.spec_from_file_location("compat_user_models", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["compat_user_models"] = module
    spec.loader.exec_module(module)
    arrays = tabular(folder / "data.npz")
    keras.utils.set_random_seed(0)
    custom = keras.Sequential(
        [keras.Input((8,)), module.ScaledDense(8, scale=0.5), keras.layers.Dense(2, "softmax")]
    )
    subclassed = module.MLPClassifier(hidden=8)
    for model, name in ((custom, "custom.keras"), (subclassed, "subclassed.keras")):
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(arrays["x_train"], arrays["y_train"], epochs=2, verbose=0)
        model.save(folder / name)
    yield folder, path, arrays
    sys.modules.pop("compat_user_models", None)


def _plain_load(path: Path):
    """As a Keras user loads it: registered classes need the import, others custom_objects."""
    module = sys.modules["compat_user_models"]
    return keras.models.load_model(path, custom_objects={"MLPClassifier": module.MLPClassifier})


def _check_written(out: Path, doc: dict, arrays: dict) -> None:
    written = _plain_load(out / "model.keras")
    independent = evaluated(written, arrays["x_val"], arrays["y_val"], batch_size=32)
    assert_metrics_equal(doc["output_metrics"], independent)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["custom.keras", "subclassed.keras"])
def test_resumes_with_import_and_loads_in_plain_keras(user, name, tmp_path):
    folder, path, arrays = user
    before = _plain_load(folder / name)
    result = resume(
        folder / name,
        str(folder / "data.npz"),
        tmp_path / "o",
        "--strategy",
        "lr-decay",
        "--import",
        str(path),
    )
    doc = report(result)
    assert_metrics_equal(doc["baseline"], evaluated(before, arrays["x_val"], arrays["y_val"]))
    assert doc["optimizer"]["loaded_state"] == "restored"
    _check_written(tmp_path / "o", doc, arrays)


def test_without_import_the_error_names_the_option(user, tmp_path):
    folder, _, _ = user
    keras.saving.get_custom_objects().pop("compat>ScaledDense", None)
    saved = sys.modules.pop("compat_user_models")
    try:
        result = run_cli(["inspect", str(folder / "subclassed.keras")])
    finally:
        sys.modules["compat_user_models"] = saved
    assert result.code == 2, result.stderr
    assert "MLPClassifier" in result.stderr
    assert "--import" in result.stderr


@pytest.mark.slow
def test_subclassed_model_with_data_and_auto(user, tmp_path):
    folder, path, arrays = user
    args = ["inspect", str(folder / "subclassed.keras"), "--data", str(folder / "data.npz")]
    result = run_cli([*args, "--import", str(path), "--json"])
    doc = report(result)
    assert doc["data"]["dead_units"] == []
    result = resume(
        folder / "subclassed.keras",
        str(folder / "data.npz"),
        tmp_path / "auto",
        "--strategy",
        "auto",
        "--import",
        str(path),
    )
    _check_written(tmp_path / "auto", report(result), arrays)
    refused = resume(
        folder / "subclassed.keras",
        str(folder / "data.npz"),
        tmp_path / "w",
        "--strategy",
        "widen",
        "--import",
        str(path),
    )
    assert refused.code == 2
    assert "subclassed model (MLPClassifier)" in refused.stderr
