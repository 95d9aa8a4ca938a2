"""Files Keras cannot load give one line that says what failed and what to do."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

keras = pytest.importorskip("keras")

from plateau_cli.adapters.base import LoadOptions  # noqa: E402
from plateau_cli.adapters.keras.adapter import KerasAdapter  # noqa: E402
from plateau_cli.adapters.sniff import KERAS_H5, KERAS_V3  # noqa: E402
from plateau_cli.errors import (  # noqa: E402
    CorruptCheckpointError,
    UnknownFormatError,
    UnsafeCheckpointError,
)
from tests.adapters.keras import builders  # noqa: E402

pytestmark = pytest.mark.keras


def _load(path: Path, fmt: str, **options) -> None:
    KerasAdapter().load(path, fmt, LoadOptions(**options))


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text
    assert len(text) < 600
    return text


def test_keras2_h5_that_keras3_cannot_rebuild(tmp_path):
    path = builders.keras2_h5(tmp_path / "old.h5", "functional_tfoplambda")
    with pytest.raises(CorruptCheckpointError) as caught:
        _load(path, KERAS_H5)
    text = _one_line(caught.value)
    assert text.startswith(
        f"{path}: written by Keras 2.15.0 (Keras 2 / tf.keras), and Keras {keras.__version__}"
        " cannot rebuild it: Unknown layer: 'TFOpLambda'. Re-save it as .keras with the Keras"
        " that wrote it"
    )
    assert "model.load_weights('old.h5')" in text


def _future(source: Path, target: Path, version: str, *, unknown_option: bool) -> Path:
    def edit(config: dict) -> None:
        if unknown_option:
            config["config"]["layers"][1]["config"]["new_option"] = True

    metadata = {"keras_version": version, "date_saved": "2031-01-01@00:00:00"}
    return builders.rewrite_archive(source, target, config=edit, metadata=metadata)


def test_file_from_a_newer_keras_that_fails(trained_keras, tmp_path):
    path = _future(trained_keras, tmp_path / "new.keras", "3.99.0", unknown_option=True)
    with pytest.raises(CorruptCheckpointError) as caught:
        _load(path, KERAS_V3)
    assert _one_line(caught.value) == (
        f"{path}: written by Keras 3.99.0, newer than the installed Keras {keras.__version__},"
        " which cannot read it: Unrecognized keyword arguments passed to Dense: {'new_option':"
        " True}. Install a matching Keras (pip install 'keras>=3.99.0') or re-save the model as"
        f" .keras with Keras {keras.__version__}"
    )


def test_file_from_a_newer_keras_that_loads_gets_a_note(trained_keras, tmp_path):
    path = _future(trained_keras, tmp_path / "new.keras", "3.99.0", unknown_option=False)
    handle = KerasAdapter().load(path, KERAS_V3, LoadOptions())
    assert "written by Keras 3.99.0, loaded with Keras" in " ".join(handle.describe().notes)


def test_custom_object_from_this_keras(trained_keras, tmp_path):
    def edit(config: dict) -> None:
        config["config"]["layers"][1]["class_name"] = "MyDense"
        config["config"]["layers"][1]["module"] = "my_project.layers"

    path = builders.rewrite_archive(trained_keras, tmp_path / "custom.keras", config=edit)
    with pytest.raises(CorruptCheckpointError) as caught:
        _load(path, KERAS_V3)
    text = _one_line(caught.value)
    assert f"Keras {keras.__version__} cannot rebuild this model" in text
    assert "MyDense" in text
    assert "not part of Keras (a custom layer" in text


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_truncated_checkpoints(trained_keras, trained_h5, tmp_path, suffix):
    source = trained_keras if suffix == ".keras" else trained_h5
    path = tmp_path / f"cut{suffix}"
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptCheckpointError) as caught:
        _load(path, KERAS_V3 if suffix == ".keras" else KERAS_H5)
    text = _one_line(caught.value)
    assert text.startswith(f"{path}: ")
    assert "truncated" in text


def test_damaged_weights_inside_a_good_zip(trained_keras, tmp_path):
    path = tmp_path / "damaged.keras"
    with zipfile.ZipFile(trained_keras) as old, zipfile.ZipFile(path, "w") as new:
        for name in old.namelist():
            data = old.read(name)
            new.writestr(name, data[: len(data) // 2] if name.endswith(".h5") else data)
    with pytest.raises(CorruptCheckpointError, match="damaged or truncated"):
        _load(path, KERAS_V3)


def test_weights_that_do_not_fit_the_architecture(trained_keras, tmp_path):
    def edit(config: dict) -> None:
        config["config"]["layers"][2]["config"]["units"] = 4  # stored kernel: (4, 3)

    path = builders.rewrite_archive(trained_keras, tmp_path / "mismatch.keras", config=edit)
    with pytest.raises(CorruptCheckpointError) as caught:
        _load(path, KERAS_V3)
    assert "stored weights do not fit the model's architecture" in _one_line(caught.value)


def test_a_configuration_that_does_not_fit_together(trained_keras, tmp_path):
    def edit(config: dict) -> None:
        config["config"]["layers"][1]["config"]["units"] = 5  # `out` was built for 4 inputs

    path = builders.rewrite_archive(trained_keras, tmp_path / "edited.keras", config=edit)
    with pytest.raises(CorruptCheckpointError) as caught:
        _load(path, KERAS_V3)
    text = _one_line(caught.value)
    assert "expected axis -1 of input shape to have value 4" in text
    assert text.endswith("does not fit together: the file is damaged or was edited")


def test_invalid_config_json(trained_keras, tmp_path):
    path = tmp_path / "bad.keras"
    with zipfile.ZipFile(trained_keras) as old, zipfile.ZipFile(path, "w") as new:
        for name in old.namelist():
            new.writestr(name, b"{not json" if name == "config.json" else old.read(name))
    with pytest.raises(CorruptCheckpointError, match="not valid JSON"):
        _load(path, KERAS_V3)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_lambda_layer_needs_trust_pickle(tmp_path, suffix):
    model = keras.Sequential(
        [
            keras.Input((builders.FEATURES,)),
            keras.layers.Lambda(lambda t: t * 2.0, name="double"),
            keras.layers.Dense(builders.CLASSES, activation="softmax", name="out"),
        ]
    )
    path = builders.save(builders.compiled(model), tmp_path / f"lambda{suffix}")
    fmt = KERAS_V3 if suffix == ".keras" else KERAS_H5
    with pytest.raises(UnsafeCheckpointError) as caught:
        _load(path, fmt)
    assert _one_line(caught.value) == (
        f"{path}: Lambda layer 'double' holds Python bytecode, which runs when the model is"
        " loaded; Keras' safe mode refuses it. If you trust where the file came from, pass"
        " --trust-pickle (it lets Keras deserialise and run that code)"
    )
    handle = KerasAdapter().load(path, fmt, LoadOptions(trust_pickle=True))
    out = handle.model(np.ones((1, builders.FEATURES), "float32"))
    assert out.shape == (1, builders.CLASSES)


def test_weights_only_h5(trained_model, tmp_path):
    path = tmp_path / "only.weights.h5"
    trained_model.save_weights(path)
    with pytest.raises(UnknownFormatError, match="weights only"):
        _load(path, KERAS_H5)


def test_unknown_failures_are_not_swallowed(trained_keras, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug in plateau-cli, not in the file")

    monkeypatch.setattr(keras.models, "load_model", broken)
    with pytest.raises(ValueError, match="a bug in plateau-cli"):
        _load(trained_keras, KERAS_V3)


def test_an_h5_without_a_model_config(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as handle:
        handle.create_group("model_weights")
        handle.attrs["note"] = json.dumps({"not": "a model"})
    with pytest.raises(UnknownFormatError, match="without a Keras model configuration"):
        _load(path, KERAS_H5)
