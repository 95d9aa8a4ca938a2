"""`plateau-cli resume --strategy widen` through the CLI, per framework, from a model stalled at
a 4-unit bottleneck (the sample `widen` models; built here when they are absent).

Function preservation is checked twice: the figure in the report, and independently from the
written checkpoint of a run at --lr 1e-30 (training steps that do not move the weights), compared
with the input model on the validation data.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.keras_plateau import digits_npz
from tests.e2e.runner import run_cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_models"
NETS = SAMPLES / "torch" / "nets.py"
EPOCHS = 2


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    shipped = SAMPLES / "data" / "digits.npz"
    return shipped if shipped.exists() else digits_npz(tmp_path_factory.mktemp("d") / "d.npz")


def steps_per_epoch(data: Path, batch_size: int = 32) -> int:
    return -(-len(np.load(data)["x_train"]) // batch_size)


def resume(model: Path, data: Path, out: Path, *extra: str) -> dict:
    argv = ["resume", str(model), "--strategy", "widen", "--data", str(data)]
    result = run_cli([*argv, "--out", str(out), "--json", *extra])
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def check_report(report: dict, layer: str) -> None:
    details = report["strategy"]["details"]
    assert details["layer"] == layer
    assert details["chosen_by"] == "the narrowest hidden layer"
    assert (details["old_width"], details["new_width"], details["init"]) == (4, 8, "zero-out")
    assert details["max_output_change_before_noise"] <= 1e-5
    assert (details["params_before"], details["params_after"]) == (310, 610)
    assert f"'{layer}': 4 -> 8 units (zero-out init" in report["changes"][0]
    # the pipeline's own evaluation after the change agrees: nothing moved
    assert report["after_change"]["val_loss"] == pytest.approx(
        report["baseline"]["val_loss"], abs=1e-6
    )


# -- Keras ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_model(tmp_path_factory, digits) -> Path:
    pytest.importorskip("keras")
    sample = SAMPLES / "keras" / "widen" / "model.keras"
    if sample.exists():
        return sample
    import keras

    keras.utils.set_random_seed(4)
    arrays = np.load(digits)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(4, activation="relu", name="dense"),
            keras.layers.Dense(10, activation="softmax", name="dense_1"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(arrays["x_train"], arrays["y_train"], epochs=15, batch_size=32, verbose=0)
    path = tmp_path_factory.mktemp("keras_widen") / "model.keras"
    model.save(path)
    return path


@pytest.mark.keras
@pytest.mark.slow
def test_keras_widen_end_to_end(keras_model, digits, tmp_path):
    import keras

    original = keras.models.load_model(keras_model)
    hidden = original.layers[0].name
    saved_steps = int(original.optimizer.iterations)
    report = resume(keras_model, digits, tmp_path / "run", "--epochs", str(EPOCHS))
    check_report(report, hidden)
    assert report["optimizer"]["state"] == "remapped"
    written = keras.models.load_model(tmp_path / "run" / "model.keras")  # plain Keras
    assert written.get_layer(hidden).units == 8
    assert written.count_params() == 610
    assert int(written.optimizer.iterations) == saved_steps + EPOCHS * steps_per_epoch(digits)
    arrays = np.load(digits)
    evaluated = written.evaluate(arrays["x_val"], arrays["y_val"], verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(report["output_metrics"]["val_loss"], abs=1e-5)

    # at --lr 1e-30 the steps leave the weights as widened: the file computes the input's function
    still = resume(keras_model, digits, tmp_path / "still", "--epochs", "1", "--lr", "1e-30")
    unchanged = keras.models.load_model(tmp_path / "still" / "model.keras")
    assert unchanged.get_layer(hidden).units == 8
    x = arrays["x_val"]
    change = np.max(np.abs(unchanged.predict(x, verbose=0) - original.predict(x, verbose=0)))
    assert change <= 1e-5
    assert still["strategy"]["details"]["max_output_change_before_noise"] <= 1e-5


# -- torch ------------------------------------------------------------------------------------


def load_nets():
    spec = importlib.util.spec_from_file_location("widen_e2e_nets", NETS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def torch_model(tmp_path_factory, digits) -> Path:
    torch = pytest.importorskip("torch")
    sample = SAMPLES / "torch" / "widen" / "checkpoint.pt"
    if sample.exists():
        return sample
    torch.manual_seed(3)
    model = load_nets().mlp(hidden=4)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    arrays = np.load(digits)
    x, y = torch.from_numpy(arrays["x_train"]), torch.from_numpy(arrays["y_train"])
    for _ in range(15):
        for start in range(0, len(x), 32):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(
                model(x[start : start + 32]), y[start : start + 32]
            )
            loss.backward()
            optimizer.step()
    path = tmp_path_factory.mktemp("torch_widen") / "checkpoint.pt"
    torch.save(
        {
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
            "epoch": 15,
        },
        path,
    )
    return path


@pytest.mark.torch
def test_torch_widen_end_to_end(torch_model, digits, tmp_path):
    import torch

    factory = ["--model-factory", f"{NETS}:mlp", "--factory-arg", "hidden=4"]
    saved = torch.load(torch_model, weights_only=True)
    saved_step = int(saved["optimizer_state_dict"]["state"][0]["step"])
    nets = load_nets()
    original = nets.mlp(hidden=4)
    original.load_state_dict(saved["model_state_dict"])
    report = resume(torch_model, digits, tmp_path / "run", *factory, "--epochs", str(EPOCHS))
    check_report(report, "0")
    assert "--factory-arg hidden=8" in report["changes"][2]
    assert report["optimizer"]["state"] == "partial"  # the widened layers restart at step 0
    written = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    rebuilt = nets.mlp(hidden=8)
    rebuilt.load_state_dict(written["model_state_dict"], strict=True)  # plain torch, new width
    assert sum(p.numel() for p in rebuilt.parameters()) == 610
    arrays = np.load(digits)
    xv, yv = torch.from_numpy(arrays["x_val"]), torch.from_numpy(arrays["y_val"])
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(rebuilt(xv), yv).item()
    assert loss == pytest.approx(report["output_metrics"]["val_loss"], abs=1e-5)
    steps = EPOCHS * steps_per_epoch(digits)
    assert [int(s["step"]) for s in written["optimizer_state_dict"]["state"].values()] == [
        steps
    ] * 4
    assert written["optimizer_state_dict"]["state"][0]["exp_avg"].shape == (8, 64)

    # net2net keeps every parameter's state: Adam's step continues from the checkpoint's
    n2n = resume(
        torch_model,
        digits,
        tmp_path / "n2n",
        *factory,
        "--init",
        "net2net",
        "--epochs",
        "1",
        "--lr",
        "1e-30",
        "--noise",
        "0",
    )
    assert n2n["optimizer"]["state"] == "remapped"
    assert n2n["strategy"]["details"]["max_output_change_before_noise"] <= 1e-5
    state = torch.load(tmp_path / "n2n" / "checkpoint.pt", weights_only=True)
    assert {int(s["step"]) for s in state["optimizer_state_dict"]["state"].values()} == {
        saved_step + steps_per_epoch(digits)
    }
    unchanged = nets.mlp(hidden=8)
    unchanged.load_state_dict(state["model_state_dict"], strict=True)
    with torch.no_grad():  # the written file computes the input's function
        assert torch.max(torch.abs(unchanged(xv) - original(xv))).item() <= 1e-5


@pytest.mark.torch
def test_torch_report_names_the_factory_argument_even_when_it_was_a_default(tmp_path):
    """mlp(hidden=64, inputs=64): both defaults equal the old width; building the module tells
    which one makes the widened shapes, so the report (and --continue) can rebuild it."""
    pytest.importorskip("torch")
    samples = Path(__file__).resolve().parents[2] / "sample_models"
    args = ["resume", str(samples / "torch" / "augment" / "checkpoint.pt"), "--strategy", "widen"]
    args += ["--data", str(samples / "data" / "digits_small.npz"), "--epochs", "1"]
    args += ["--model-factory", f"{samples / 'torch' / 'nets.py'}:mlp"]
    result = run_cli([*args, "--out", str(tmp_path / "o"), "--json"])
    assert result.code == 0, result.stderr
    details = json.loads(result.stdout)["strategy"]["details"]
    assert details["factory_args"] == {"hidden": 128}
    assert "--factory-arg hidden=128" in details["rebuild"]
