"""A two-input, two-output functional model (dict inputs, dict losses and metrics), built and
trained with Keras' own API, resumed from an .npz of named arrays and from tf.data datasets of
dicts; the reported metrics must equal Keras' own `evaluate` of the written model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.compat.keras.cases import evaluated, report, resume
from tests.e2e.runner import run_cli

keras = pytest.importorskip("keras")

BATCH = 32
#: Same weights, same batches, same order: float32 noise only.
RTOL = 1e-5
OUTPUT_METRICS = {
    "val_loss",
    "val_digit_loss",
    "val_digit_accuracy",
    "val_big_loss",
    "val_big_accuracy",
}


def _arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Digits of a 4-class template problem in `pixels`, `big` decided by `meta` and pixels."""
    rng = np.random.default_rng(seed)
    n = 400
    templates = rng.normal(size=(4, 64))
    digit = rng.integers(0, 4, n)
    pixels = (templates[digit] + rng.normal(scale=2.0, size=(n, 64))).astype("float32")
    meta = rng.normal(size=(n, 3)).astype("float32")
    big = (meta[:, 0] + 0.5 * pixels[:, 0] > 0).astype("int64")
    out = {}
    for split, rows in (("train", slice(0, 300)), ("val", slice(300, None))):
        out[f"x_{split}.pixels"], out[f"x_{split}.meta"] = pixels[rows], meta[rows]
        out[f"y_{split}.digit"], out[f"y_{split}.big"] = digit[rows], big[rows]
    return out


def _xy(arrays: dict[str, np.ndarray], split: str) -> tuple[dict, dict]:
    x = {"pixels": arrays[f"x_{split}.pixels"], "meta": arrays[f"x_{split}.meta"]}
    y = {"digit": arrays[f"y_{split}.digit"], "big": arrays[f"y_{split}.big"]}
    return x, y


def _model(squeeze: bool = False):
    pixels = keras.Input(shape=(64,), name="pixels")
    meta = keras.Input(shape=(3,), name="meta")
    features = pixels
    if squeeze:  # a bottleneck inside the pixels' own tower, for widen
        features = keras.layers.Dense(2, activation="relu", name="squeeze")(features)
        features = keras.layers.Dense(8, activation="relu", name="tower")(features)
    hidden = keras.layers.Dense(16, activation="relu", name="hidden")(
        keras.layers.Concatenate()([features, meta])
    )
    digit = keras.layers.Dense(4, activation="softmax", name="digit")(hidden)
    big = keras.layers.Dense(1, activation="sigmoid", name="big")(hidden)
    model = keras.Model({"pixels": pixels, "meta": meta}, {"digit": digit, "big": big})
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss={"digit": "sparse_categorical_crossentropy", "big": "binary_crossentropy"},
        metrics={"digit": ["accuracy"], "big": ["accuracy"]},
    )
    return model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("multi_io")
    arrays = _arrays()
    np.savez(root / "data.npz", **arrays)
    keras.utils.set_random_seed(0)
    model = _model()
    x, y = _xy(arrays, "train")
    model.fit(
        x,
        y,
        validation_data=_xy(arrays, "val"),
        epochs=2,
        batch_size=BATCH,
        verbose=0,
        callbacks=[keras.callbacks.CSVLogger(root / "log.csv")],
    )
    model.save(root / "model.keras")
    (root / "feed.py").write_text(
        "import numpy as np\n"
        "import tensorflow as tf\n"
        f"ARRAYS = {str(root / 'data.npz')!r}\n"
        "def _part(split):\n"
        "    a = np.load(ARRAYS)\n"
        "    x = {'pixels': a[f'x_{split}.pixels'], 'meta': a[f'x_{split}.meta']}\n"
        "    y = {'digit': a[f'y_{split}.digit'], 'big': a[f'y_{split}.big']}\n"
        "    return tf.data.Dataset.from_tensor_slices((x, y))\n"
        "def datasets():\n"
        f"    train = _part('train').shuffle(300, seed=0).batch({BATCH})\n"
        f"    return train, _part('val').batch({BATCH})\n"
    )
    return root, arrays, evaluated(model, *_xy(arrays, "val"), batch_size=BATCH)


def _assert_close(reported: dict[str, float], independent: dict[str, float]) -> None:
    assert set(independent) <= set(reported), (reported, independent)
    for name, value in independent.items():
        assert np.isclose(reported[name], value, rtol=RTOL, atol=1e-7), (name, reported, value)


@pytest.mark.slow
def test_resume_from_named_npz_reports_every_output_as_keras_evaluates(trained, tmp_path):
    """Through the console entry point in a subprocess, as a user runs it."""
    root, arrays, before = trained
    out = tmp_path / "o"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    command = [
        sys.executable, "-m", "plateau_cli", "resume", str(root / "model.keras"),
        "--data", str(root / "data.npz"), "--strategy", "lr-decay", "--epochs", "2",
        "--batch-size", str(BATCH), "--out", str(out), "--seed", "0", "--json",
    ]  # fmt: skip
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert set(doc["output_metrics"]) == OUTPUT_METRICS
    _assert_close(doc["baseline"], before)
    assert doc["data"]["input_shape"] == {"pixels": [64], "meta": [3]}
    written = keras.models.load_model(out / "model.keras")
    x_val, y_val = _xy(arrays, "val")
    _assert_close(doc["output_metrics"], evaluated(written, x_val, y_val, batch_size=BATCH))
    assert written.optimizer.iterations.numpy() > 0  # optimizer state written with it
    header = (out / "history.csv").read_text().splitlines()[0].split(",")
    assert {"val_digit_accuracy", "val_big_loss", "digit_accuracy", "big_loss"} <= set(header)


@pytest.mark.slow
def test_monitor_one_outputs_accuracy(trained, tmp_path):
    root, _, before = trained
    doc = report(
        resume(
            root / "model.keras",
            str(root / "data.npz"),
            tmp_path / "o",
            "--strategy",
            "lr-decay",
            "--factor",
            "0.5",
            "--monitor",
            "val_digit_accuracy",
            "--batch-size",
            str(BATCH),
            epochs=3,
        )
    )
    assert doc["monitor"]["metric"] == "val_digit_accuracy"
    assert doc["monitor"]["mode"] == "max"
    values = [before["val_digit_accuracy"]] + [row["val_digit_accuracy"] for row in doc["history"]]
    assert doc["best"]["metrics"]["val_digit_accuracy"] == pytest.approx(max(values))
    assert doc["improved"] == (max(values[1:]) > values[0])


@pytest.mark.slow
def test_tf_data_entry_point_of_dicts(trained, tmp_path):
    root, arrays, before = trained
    doc = report(
        resume(
            root / "model.keras",
            f"{root / 'feed.py'}:datasets",
            tmp_path / "o",
            "--strategy",
            "lr-decay",
        )
    )
    _assert_close(doc["baseline"], before)
    written = keras.models.load_model(tmp_path / "o" / "model.keras")
    x_val, y_val = _xy(arrays, "val")
    _assert_close(doc["output_metrics"], evaluated(written, x_val, y_val, batch_size=BATCH))


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["lr-find", "auto", "regularize"])
def test_other_strategies_train_the_multi_io_model(trained, tmp_path, strategy):
    root, _, _ = trained
    result = resume(
        root / "model.keras", str(root / "data.npz"), tmp_path / "o", "--strategy", strategy
    )
    doc = report(result)
    assert set(doc["output_metrics"]) >= OUTPUT_METRICS
    if strategy == "auto":  # chosen from the checkpoint and data: a strategy that applies
        assert doc["strategy"]["name"] in ("lr-decay", "lr-find", "regularize", "widen", "revive")


@pytest.mark.parametrize(
    ("strategy", "says"),
    [
        ("augment", "augment perturbs one input array"),
        ("normalize", "normalize folds one input's scaling into the first layer"),
        ("rebalance", "rebalance weighs the classes of one output"),
    ],
)
def test_single_array_strategies_refuse_in_one_line(trained, tmp_path, strategy, says):
    root, _, _ = trained
    result = resume(
        root / "model.keras", str(root / "data.npz"), tmp_path / "o", "--strategy", strategy
    )
    assert result.code == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    assert says in lines[0]
    assert "inputs 'pixels', 'meta' and outputs 'digit', 'big'" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_missing_input_array_is_one_line(trained, tmp_path):
    root, arrays, _ = trained
    path = tmp_path / "d.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if not k.endswith(".meta")})
    result = resume(root / "model.keras", str(path), tmp_path / "o", "--strategy", "lr-decay")
    assert result.code == 2, result.stderr
    assert "no array for input 'meta'" in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_inspect_with_named_data(trained):
    root, _, _ = trained
    result = run_cli(
        ["inspect", str(root / "model.keras"), "--data", str(root / "data.npz"), "--json"]
    )
    assert result.code == 0, result.stderr
    probe = json.loads(result.stdout)["data"]
    assert {"digit_accuracy", "big_accuracy", "loss"} <= set(probe["val"])
    assert probe["dead_units"][0]["layer"] == "hidden"


@pytest.mark.slow
def test_widen_inside_one_inputs_tower_keeps_every_output(trained, tmp_path):
    root, arrays, _ = trained
    keras.utils.set_random_seed(0)
    model = _model(squeeze=True)
    model.fit(*_xy(arrays, "train"), epochs=1, batch_size=BATCH, verbose=0)
    model.save(tmp_path / "model.keras")
    doc = report(
        resume(
            tmp_path / "model.keras",
            str(root / "data.npz"),
            tmp_path / "o",
            "--strategy",
            "widen",
            "--batch-size",
            str(BATCH),
        )
    )
    assert any("Dense 'squeeze': 2 ->" in change for change in doc["changes"]), doc["changes"]
    assert any("function-preserving, max |output change| 0 " in c for c in doc["changes"])
    written = keras.models.load_model(tmp_path / "o" / "model.keras")
    assert set(written.output_names) == {"digit", "big"}
    x_val, y_val = _xy(arrays, "val")
    _assert_close(doc["output_metrics"], evaluated(written, x_val, y_val, batch_size=BATCH))
