"""`plateau-cli resume --strategy unfreeze` from a transfer-learning plateau, as a user runs it.

Each run starts from a frozen-base CNN stuck on its head (the sample models when present, else
the same recipe built here) and is read back with plain Keras / plain torch + the factory:
exactly the intended layers train, at the multiplied rate, BatchNorm statistics untouched.
"""

from __future__ import annotations

import importlib.util
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.e2e.runner import run_cli
from tests.strategies.unfreeze import models

BATCH = 32
TRAIN_SAMPLES = 1437


def _resume(model: Path, data: Path, out: Path, *options: str) -> dict[str, Any]:
    result = run_cli(
        [
            "resume",
            str(model),
            "--strategy",
            "unfreeze",
            "--data",
            str(data),
            "--out",
            str(out),
            "--seed",
            "0",
            "--patience",
            "10",
            "--json",
            *options,
        ]
    )
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def _refused(argv: list[str], out: Path) -> str:
    result = run_cli([*argv, "--strategy", "unfreeze", "--out", str(out), "--json"])
    assert result.code == 2, result.stderr
    assert result.stdout == ""
    assert not out.exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- Keras ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras_plateau(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    pytest.importorskip("keras")
    return models.keras_plateau(tmp_path_factory.mktemp("keras_unfreeze"))


@pytest.fixture(scope="module")
def keras_default(keras_plateau, tmp_path_factory):
    model, data = keras_plateau
    out = tmp_path_factory.mktemp("keras_default") / "run"
    return _resume(model, data, out, "--epochs", "3"), out


def _load_keras(path: Path) -> Any:
    import keras

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.models.load_model(path)
    assert not [w for w in caught if "optimizer" in str(w.message).lower()]
    return model


def _keras_flags(model: Any) -> dict[str, bool]:
    base = model.get_layer("base")
    flags = {f"base/{layer.name}": layer.trainable for layer in base.layers if layer.weights}
    return {**flags, "head": model.get_layer("head").trainable}


@pytest.mark.keras
def test_keras_default_unfreezes_the_top_block_at_the_multiplied_rate(keras_plateau, keras_default):
    model, _ = keras_plateau
    report, out = keras_default
    details = report["strategy"]["details"]
    assert details["frozen_blocks"] == [["base/conv1", "base/bn1"], ["base/conv2"]]
    assert details["unfrozen"] == ["base/conv2"]
    assert details["still_frozen"] == ["base/conv1", "base/bn1"]
    assert report["strategy"]["parameters"]["base_lr_mult"] == 0.3
    assert details["base_lr"] == pytest.approx(details["head_lr"] * 0.3, rel=1e-6)
    assert details["trainable_params_after"] - details["trainable_params_before"] == 584
    assert report["changes"][0].startswith("unfroze base/conv2 (584 parameters) at 0.3x")
    assert report["optimizer"]["state"] == "partial"

    original, written = _load_keras(model), _load_keras(out / "model.keras")
    assert _keras_flags(written) == {
        "base/conv1": False,
        "base/bn1": False,
        "base/conv2": True,
        "head": True,
    }
    assert [v.path for v in written.trainable_variables] == [
        "conv2/kernel",
        "conv2/bias",
        "head/kernel",
        "head/bias",
    ]
    before, after = original.get_layer("base"), written.get_layer("base")
    for name in ("moving_mean", "moving_variance", "gamma", "beta"):
        bn_before = getattr(before.get_layer("bn1"), name).numpy()
        np.testing.assert_array_equal(getattr(after.get_layer("bn1"), name).numpy(), bn_before)
    conv1 = before.get_layer("conv1").kernel.numpy()
    np.testing.assert_array_equal(after.get_layer("conv1").kernel.numpy(), conv1)
    conv2 = before.get_layer("conv2").kernel.numpy()
    assert np.abs(after.get_layer("conv2").kernel.numpy() - conv2).max() > 1e-3
    # One standard Adam over the four trainable variables: step count of the head continued.
    assert type(written.optimizer).__name__ == "Adam"
    assert len(written.optimizer.variables) == 2 + 2 * 4
    steps = math.ceil(TRAIN_SAMPLES / BATCH) * report["epochs_run"]
    assert int(written.optimizer.iterations) == int(original.optimizer.iterations) + steps
    assert float(written.optimizer.learning_rate) == pytest.approx(details["head_lr"])
    # The plateau moves (the sample: val_loss 0.653 -> 0.478 in three epochs; continuing
    # unchanged reaches 0.641 in ten).
    assert report["best"]["metrics"]["val_loss"] < report["baseline"]["val_loss"] - 0.05
    assert report["improved"] is True


@pytest.mark.keras
def test_keras_gradual_unfreezes_one_more_block_each_epoch(keras_plateau, tmp_path):
    model, data = keras_plateau
    report = _resume(model, data, tmp_path / "run", "--gradual", "--epochs", "2")
    changes = report["changes"]
    assert changes[0].startswith("unfroze base/conv2 (584 parameters)")
    assert (
        changes[1]
        == "gradual unfreezing, one more block each epoch from the top: epoch 2: base/conv1"
    )
    assert changes[2] == (
        "trainable parameters 90 -> 674, 754 once every planned block is unfrozen; left frozen:"
        " nothing"
    )
    assert any(
        c.startswith("epoch 2: unfroze base/conv1 (80 parameters) at 0.3x")
        and "BatchNorm base/bn1 kept frozen, in inference mode" in c
        for c in changes
    )
    assert report["strategy"]["details"]["gradual_plan"] == [
        {"epoch": 1, "units": ["base/conv2"]},
        {"epoch": 2, "units": ["base/conv1"]},
    ]
    written = _load_keras(tmp_path / "run" / "model.keras")
    assert _keras_flags(written) == {
        "base/conv1": True,
        "base/bn1": False,
        "base/conv2": True,
        "head": True,
    }
    slots = {v.name: v.numpy() for v in written.optimizer.variables}
    assert len(slots) == 2 + 2 * 6
    assert np.abs(slots["conv1_kernel_momentum"]).max() > 0  # conv1 trained in epoch 2
    original = _load_keras(model).get_layer("base").get_layer("bn1")
    bn = written.get_layer("base").get_layer("bn1")
    np.testing.assert_array_equal(bn.moving_mean.numpy(), original.moving_mean.numpy())


@pytest.mark.keras
def test_keras_layers_all_with_train_bn(keras_plateau, tmp_path):
    model, data = keras_plateau
    report = _resume(
        model, data, tmp_path / "run", "--layers", "all", "--train-bn", "--epochs", "1"
    )
    details = report["strategy"]["details"]
    assert details["unfrozen"] == ["base/conv2", "base/conv1", "base/bn1"]
    assert details["still_frozen"] == []
    assert details["kept_in_inference_mode"] == []
    written = _load_keras(tmp_path / "run" / "model.keras")
    assert all(_keras_flags(written).values())
    # BatchNorm trained: its scale has moments in the saved optimizer (its statistics moved
    # too, but an epoch that does not beat the baseline is rolled back by restore-best).
    slots = {v.name: v.numpy() for v in written.optimizer.variables}
    assert np.abs(slots["bn1_gamma_momentum"]).max() > 0
    assert len(slots) == 2 + 2 * 8


@pytest.mark.keras
def test_keras_nothing_frozen_is_refused(tmp_path):
    from tests.e2e.keras_plateau import digits_npz, stalled_keras_model

    data = digits_npz(tmp_path / "digits.npz")
    model = stalled_keras_model(tmp_path / "mlp.keras", data, epochs=1)
    line = _refused(["resume", str(model), "--data", str(data)], tmp_path / "out")
    assert line.startswith("error: unfreeze does not apply to mlp.keras: every layer already")
    assert "none frozen" in line
    assert "lr-decay" in line
    assert "plateau-cli diagnose" in line


# -- torch ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torch_plateau(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    pytest.importorskip("torch")
    return models.torch_plateau(tmp_path_factory.mktemp("torch_unfreeze"))


def _torch_run(torch_plateau, out: Path, *options: str) -> dict[str, Any]:
    checkpoint, data, factory = torch_plateau
    return _resume(checkpoint, data, out, "--model-factory", factory, *options)


def _factory_model(factory: str) -> Any:
    path, _, name = factory.rpartition(":")
    spec = importlib.util.spec_from_file_location("unfreeze_test_factory", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)()


def _saved_group_shapes(saved: dict[str, Any]) -> list[list[tuple[int, ...]]]:
    state = saved["state"]
    return [
        [tuple(state[pid]["exp_avg"].shape) for pid in group["params"]]
        for group in saved["param_groups"]
    ]


@pytest.fixture(scope="module")
def torch_default(torch_plateau, tmp_path_factory):
    out = tmp_path_factory.mktemp("torch_default") / "run"
    return _torch_run(torch_plateau, out, "--epochs", "3"), out


@pytest.mark.torch
def test_torch_default_adds_a_param_group_at_the_multiplied_rate(torch_plateau, torch_default):
    import torch

    checkpoint, _, factory = torch_plateau
    report, out = torch_default
    details = report["strategy"]["details"]
    assert details["frozen_blocks"] == [["base.0", "base.1"], ["base.4"]]
    assert details["unfrozen"] == ["base.4"]
    assert report["changes"][0].startswith("unfroze base.4 (584 parameters) at 0.3x")
    assert "trainable parameters 90 -> 674; left frozen: base.0, base.1" in report["changes"]
    assert any("BatchNorm base.1 of a still-frozen block" in c for c in report["changes"])

    original = torch.load(checkpoint, weights_only=True)
    written = torch.load(out / "checkpoint.pt", weights_only=True)
    head_lr = original["optimizer_state_dict"]["param_groups"][0]["lr"]
    groups = written["optimizer_state_dict"]["param_groups"]
    assert [g["lr"] for g in groups] == pytest.approx([head_lr, head_lr * 0.3])
    assert _saved_group_shapes(written["optimizer_state_dict"]) == [
        [(10, 8), (10,)],
        [(8, 8, 3, 3), (8,)],
    ]
    # A script rebuilds the same two groups and loads the state; the weights load as saved.
    model = _factory_model(factory)
    model.load_state_dict(written["model_state_dict"])
    optimizer = torch.optim.Adam(
        [
            {"params": model.head.parameters()},
            {"params": model.base[4].parameters(), "lr": head_lr * 0.3},
        ],
        lr=head_lr,
    )
    optimizer.load_state_dict(written["optimizer_state_dict"])
    before, after = original["model_state_dict"], written["model_state_dict"]
    for key in ("base.1.running_mean", "base.1.running_var", "base.1.weight", "base.0.weight"):
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=0)
    assert (after["base.4.weight"] - before["base.4.weight"]).abs().max() > 1e-3
    # The sample: val_loss 0.821 -> 0.704 in three epochs; continuing unchanged, 0.818 in ten.
    assert report["best"]["metrics"]["val_loss"] < report["baseline"]["val_loss"] - 0.05


@pytest.mark.torch
@pytest.mark.slow  # 5-15 s here; tests/strategies/unfreeze covers gradual torch in-process
def test_torch_gradual_adds_one_group_per_epoch(torch_plateau, tmp_path):
    import torch

    report = _torch_run(torch_plateau, tmp_path / "run", "--gradual", "--epochs", "2")
    assert any(
        c.startswith("epoch 2: unfroze base.0 (80 parameters) at 0.3x")
        and "BatchNorm base.1 kept frozen, in inference mode" in c
        for c in report["changes"]
    )
    written = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    saved = written["optimizer_state_dict"]
    assert _saved_group_shapes(saved) == [
        [(10, 8), (10,)],
        [(8, 8, 3, 3), (8,)],
        [(8, 1, 3, 3), (8,)],
    ]
    lrs = [g["lr"] for g in saved["param_groups"]]
    assert lrs[1] == pytest.approx(lrs[0] * 0.3)
    assert lrs[2] == pytest.approx(lrs[0] * 0.3)
    original = torch.load(torch_plateau[0], weights_only=True)["model_state_dict"]
    torch.testing.assert_close(
        written["model_state_dict"]["base.1.running_mean"], original["base.1.running_mean"]
    )


@pytest.mark.torch
def test_torch_layers_all_with_train_bn(torch_plateau, tmp_path):
    import torch

    report = _torch_run(
        torch_plateau, tmp_path / "run", "--layers", "all", "--train-bn", "--epochs", "1"
    )
    assert report["strategy"]["details"]["unfrozen"] == ["base.4", "base.0", "base.1"]
    written = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    saved = written["optimizer_state_dict"]
    shapes = _saved_group_shapes(saved)
    assert shapes[1] == [(8, 8, 3, 3), (8,), (8, 1, 3, 3), (8,), (8,), (8,)]
    bn_weight = saved["param_groups"][1]["params"][4]
    assert saved["state"][bn_weight]["exp_avg"].abs().max() > 0


@pytest.mark.torch
def test_torch_nothing_frozen_is_refused(tmp_path):
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(64, 4), torch.nn.ReLU(), torch.nn.Linear(4, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    net(torch.zeros(2, 64)).sum().backward()
    optimizer.step()
    checkpoint = tmp_path / "mlp.pt"
    torch.save(
        {"model_state_dict": net.state_dict(), "optimizer_state_dict": optimizer.state_dict()},
        checkpoint,
    )
    from tests.e2e.keras_plateau import digits_npz

    data = digits_npz(tmp_path / "digits.npz")
    nets = models.ROOT / "tests" / "fixtures" / "torch" / "nets.py"
    argv = ["resume", str(checkpoint), "--data", str(data), "--model-factory", f"{nets}:mlp"]
    line = _refused(argv, tmp_path / "out")
    assert line.startswith("error: unfreeze does not apply to mlp.pt: every layer already trains")
