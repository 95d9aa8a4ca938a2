"""`plateau-cli resume BACKUP_DIR --model-factory ...` in a real process, on what a
`BackupAndRestore` callback leaves after an interrupted `fit`."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.test_schemas import validate

keras = pytest.importorskip("keras")
pytestmark = [pytest.mark.keras, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

BUILD = """
import keras


def make_model(hidden=8):
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.005),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
"""


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:  # two epochs backed up, then the job "dies"
            raise RuntimeError("preempted")


def _plateau(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plateau_cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("backup_run")
    build = root / "backup_e2e_build.py"
    build.write_text(BUILD)
    spec = importlib.util.spec_from_file_location("backup_e2e_build", build)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    arrays = {"x_train": x[:192], "y_train": y[:192], "x_val": x[192:], "y_val": y[192:]}
    np.savez(root / "data.npz", **arrays)
    keras.utils.set_random_seed(0)
    model = module.make_model()
    backup = root / "backup"
    with pytest.raises(RuntimeError, match="preempted"):
        model.fit(
            arrays["x_train"],
            arrays["y_train"],
            epochs=10,
            batch_size=64,
            verbose=0,
            callbacks=[keras.callbacks.BackupAndRestore(str(backup)), _Interrupt()],
        )
    return {"root": root, "build": build, "backup": backup, "arrays": arrays, "model": model}


def test_resume_writes_a_full_keras_model_whose_metrics_the_report_gives(run):
    out = run["root"] / "out"
    result = _plateau(
        "resume",
        str(run["backup"]),
        "--model-factory",
        f"{run['build']}:make_model",
        "--data",
        str(run["root"] / "data.npz"),
        "--strategy",
        "lr-decay",
        "--epochs",
        "2",
        "--seed",
        "0",
        "--out",
        str(out),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    validate(report, "report")
    assert report == json.loads((out / "report.json").read_text())
    assert report["input"]["format"] == "keras-backup-dir"
    assert report["optimizer"]["loaded_state"] == "restored"
    assert report["optimizer"]["iterations_at_load"] == 6  # 2 epochs of 192 / 64 steps
    # The epoch count from training_metadata.json turns 6 steps into the run's batch size.
    assert (report["batch_size"], report["batch_size_source"]) == (64, "step-count")
    arrays = run["arrays"]
    baseline = run["model"].evaluate(arrays["x_val"], arrays["y_val"], verbose=0, return_dict=True)
    assert report["baseline"]["val_loss"] == pytest.approx(baseline["loss"], rel=1e-4)
    written = keras.models.load_model(out / "model.keras")  # plain Keras, no factory
    values = written.evaluate(arrays["x_val"], arrays["y_val"], verbose=0, return_dict=True)
    assert report["output_metrics"]["val_loss"] == pytest.approx(values["loss"], rel=1e-4)
    assert report["output_metrics"]["val_accuracy"] == pytest.approx(values["accuracy"], rel=1e-4)
    assert int(written.optimizer.iterations) == 6 + 2 * 3
    assert sorted(p.name for p in run["backup"].iterdir()) == [
        "latest.weights.h5",
        "training_metadata.json",
    ]  # the input is left as it was


def test_without_a_factory_one_line_and_exit_2(run):
    out = run["root"] / "refused"
    result = _plateau(
        "resume",
        str(run["backup"]),
        "--data",
        str(run["root"] / "data.npz"),
        "--strategy",
        "lr-decay",
        "--out",
        str(out),
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--model-factory" in lines[0]
    assert "BackupAndRestore" in lines[0]
    assert not out.exists()


def test_inspect_shows_the_epoch_it_stopped_at(run):
    result = _plateau(
        "inspect", str(run["backup"]), "--model-factory", f"{run['build']}:make_model", "--json"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    validate(document, "inspect")
    assert document["format"] == "keras-backup-dir"
    assert document["extra"]["checkpoint_epoch"] == 2
    assert document["optimizer"]["iterations"] == 6
