"""NaN in the middle of real training: the run stops, restores the best epoch's weights, says
so, and writes a checkpoint that evaluates finite to the best epoch's numbers.

Torch: `poison_nets.py:poisoned_mlp` is the MLP whose forward pass returns NaN from its 45th
training step on (epoch 3 of 22-step epochs). Keras: the training inputs become NaN from epoch 3
on (`poison_data.py:keras_data`) in a tanh network, which, unlike ReLU, passes NaN on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.runner import CliResult, run_cli

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REPORT_SCHEMA = json.loads((ROOT / "schemas" / "report.schema.json").read_text())


def check_stopped_and_restored(result: CliResult, out: Path) -> dict:
    import jsonschema

    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["stopped_reason"] == "non-finite"
    assert "nan" in report["stopped_detail"].lower()
    assert report["epochs_run"] == 2  # epoch 3 went NaN and is not a result
    assert report["best"]["epoch"] == 2
    assert report["restored_best"] is True
    assert "stopped: training loss became nan at epoch 3" in result.stderr
    assert "restored the best weights: epoch 2" in result.stderr
    assert all(np.isfinite(v) for v in report["output_metrics"].values())
    assert report["output_metrics"]["val_loss"] == pytest.approx(
        report["best"]["metrics"]["val_loss"], rel=1e-5
    )
    return report


@pytest.mark.torch
def test_torch_nan_mid_training_restores_the_best_weights(torch_checkpoint, digits, tmp_path):
    torch = pytest.importorskip("torch")
    from tests.adapters.torch.torch_fixtures import evaluate_plain, nets

    out = tmp_path / "out"
    steps_per_epoch = -(-1400 // 64)
    result = run_cli(
        ["resume", str(torch_checkpoint), "--strategy", "lr-decay", "--data", str(digits),
         "--model-factory", f"{HERE / 'poison_nets.py'}:poisoned_mlp",
         "--factory-arg", f"after_steps={2 * steps_per_epoch}", "--batch-size", "64",
         "--epochs", "6", "--out", str(out)]
    )  # fmt: skip
    report = check_stopped_and_restored(result, out)
    state = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
    model = nets.mlp()
    model.load_state_dict(state["model_state_dict"])
    assert all(torch.isfinite(t).all() for t in state["model_state_dict"].values())
    arrays = np.load(digits)
    loss, accuracy = evaluate_plain(model, arrays["x_val"], arrays["y_val"])
    assert loss == pytest.approx(report["best"]["metrics"]["val_loss"], rel=1e-5)
    assert accuracy == pytest.approx(report["best"]["metrics"]["val_accuracy"], abs=1e-9)
    assert report["best"]["metrics"]["val_loss"] < report["baseline"]["val_loss"]


@pytest.mark.slow
@pytest.mark.keras
def test_keras_nan_mid_training_restores_the_best_weights(tmp_path, monkeypatch):
    keras = pytest.importorskip("keras")
    from plateau_cli.adapters.keras import training

    poison = f"{HERE / 'poison_data.py'}:keras_data"
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(16, activation="tanh"),
         keras.layers.Dense(10, activation="softmax")]
    )  # fmt: skip
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    from tests.reliability.poison_data import N_TRAIN, _digits

    x, y = _digits()
    model.fit(x[:N_TRAIN], y[:N_TRAIN], epochs=1, batch_size=64, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)

    original = training.ControlBridge.on_epoch_begin

    def publish_epoch(self, epoch, logs=None):
        os.environ["PLATEAU_TRAINING_EPOCH"] = str(epoch + 1)
        original(self, epoch, logs)

    monkeypatch.setattr(training.ControlBridge, "on_epoch_begin", publish_epoch)
    monkeypatch.setenv("PLATEAU_TRAINING_EPOCH", "0")
    out = tmp_path / "out"
    result = run_cli(
        ["resume", str(path), "--strategy", "lr-decay", "--data", poison, "--epochs", "6",
         "--out", str(out)]
    )  # fmt: skip
    report = check_stopped_and_restored(result, out)
    written = keras.models.load_model(out / "model.keras")
    assert all(np.isfinite(w).all() for w in written.get_weights())
    metrics = written.evaluate(x[N_TRAIN:], y[N_TRAIN:], verbose=0, return_dict=True)
    assert metrics["loss"] == pytest.approx(report["best"]["metrics"]["val_loss"], rel=1e-5)
    assert report["best"]["metrics"]["val_loss"] < report["baseline"]["val_loss"]
