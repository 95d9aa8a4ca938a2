"""`resume --strategy augment` through the CLI, per framework (issue 5's must-show).

From a model in the overfitting plateau (the `augment` sample models when they are there, else
the same recipe trained here: an MLP that memorised 120 digits): augment changes the training
batches and leaves the validation batches byte-identical; the report lists every transform with
its parameters and the clean vs augmented training loss; the output loads in plain Keras /
plain torch and evaluates on the original integer labels. Image transforms on a tiny image
model keep shapes and value ranges; `--bake` (Keras) saves layers that are inactive at inference.

The batches are captured by wrapping the handle's `fit`: the `prepared` data it trains on, and
(torch, where the transform runs in the loop) the first batch before and after the transform.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.e2e.runner import run_cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_models"
NETS = ROOT / "tests" / "fixtures" / "torch" / "nets.py"
BATCH = 32


# -- data and models ---------------------------------------------------------------------------
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y.astype(np.int64)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    """120 training digits (12 a class) and 360 for validation: the `augment` sample's data."""
    sample = SAMPLES / "data" / "digits_small.npz"
    if sample.exists():
        return sample
    x, y = _digits()
    train = np.concatenate([np.flatnonzero(y == c)[:12] for c in range(10)])
    val = np.setdiff1d(np.arange(len(y)), train)[:360]
    path = tmp_path_factory.mktemp("data") / "digits_small.npz"
    np.savez(path, x_train=x[train], y_train=y[train], x_val=x[val], y_val=y[val])
    return path


@pytest.fixture(scope="module")
def image_data(tmp_path_factory) -> Path:
    x, y = _digits()
    images = x.reshape(-1, 8, 8, 1)
    path = tmp_path_factory.mktemp("images") / "digits_images.npz"
    np.savez(path, x_train=images[:160], y_train=y[:160], x_val=images[160:260], y_val=y[160:260])
    return path


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {key: archive[key] for key in archive.files}


def _run(model: Path, out: Path, *args: str) -> dict[str, Any]:
    result = run_cli(
        ["resume", str(model), "--strategy", "augment", "--out", str(out), "--json", *args]
    )
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


@contextmanager
def _captured(handle_class: Any):
    """Record the handle and the prepared data its `fit` trains on; for torch, also the first
    training batch before and after the transform."""
    seen: dict[str, Any] = {}
    original = handle_class.fit

    def fit(self, prepared, *args, **kwargs):
        seen.setdefault("handle", self)
        seen.setdefault("prepared", prepared)
        transform = self.train_transform
        if transform is not None and handle_class.__name__ == "TorchHandle":

            def recording(x, y):
                out = transform(x, y)
                seen.setdefault("batch", (x.clone(), y.clone(), out[0].clone(), out[1].clone()))
                return out

            self.train_transform = recording
        try:
            return original(self, prepared, *args, **kwargs)
        finally:
            self.train_transform = transform

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(handle_class, "fit", fit)
        yield seen


def _check_transforms_listed(report: dict[str, Any], expected: dict[str, dict[str, Any]]) -> None:
    details = report["strategy"]["details"]["transforms"]
    assert [d["name"] for d in details] == list(expected)
    for entry in details:
        for key, value in expected[entry["name"]].items():
            assert entry[key] == pytest.approx(value) if isinstance(value, float) else value
        # The report's line says it in words; every parameter stays in details.transforms.
        line = next(c for c in report["changes"] if c.strip().startswith(entry["name"] + "="))
        assert not any(f"{key}=" in line for key in entry if key != "name")


def _check_noise_spread(augmented: np.ndarray, clean: np.ndarray, copies: int, std_rel: float):
    """Noise at std_rel of each feature's spread: sqrt(1 + std_rel^2) times the clean spread."""
    assert len(augmented) == copies * len(clean)
    spread = clean.std(axis=0)
    varies = spread > 0
    ratio = augmented.std(axis=0)[varies] / spread[varies]
    assert ratio.mean() == pytest.approx(np.sqrt(1 + std_rel**2), rel=0.05)
    assert np.array_equal(
        augmented[:, ~varies], np.broadcast_to(clean[0, ~varies], augmented[:, ~varies].shape)
    )
    clean_rows = {row.tobytes() for row in clean}
    assert not any(row.tobytes() in clean_rows for row in augmented)


def _check_training_loss(report: dict[str, Any]) -> None:
    watch = report["strategy"]["details"]["training_loss"]
    assert watch["clean"] == pytest.approx(report["baseline"]["loss"])
    assert watch["clean"] < 0.05  # the overfitting plateau: training loss ~0
    assert watch["augmented_epoch_1"] == pytest.approx(report["history"][0]["loss"])
    assert watch["augmented_epoch_1"] > 10 * watch["clean"]
    assert watch["too_weak"] is False


# -- Keras ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keras_overfit(tmp_path_factory, small_data) -> Path:
    sample = SAMPLES / "keras" / "augment" / "model.keras"
    if sample.exists():
        return sample
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    data = _arrays(small_data)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(data["x_train"], data["y_train"], batch_size=BATCH, epochs=80, verbose=0)
    path = tmp_path_factory.mktemp("keras_overfit") / "model.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def keras_cnn(tmp_path_factory, image_data) -> Path:
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    data = _arrays(image_data)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(data["x_train"], data["y_train"], batch_size=BATCH, epochs=3, verbose=0)
    path = tmp_path_factory.mktemp("keras_cnn") / "model.keras"
    model.save(path)
    return path


def _tf_batches(dataset: Any) -> list[tuple[np.ndarray, ...]]:
    return [tuple(np.asarray(t) for t in batch) for batch in dataset]


@pytest.mark.keras
def test_keras_noise_changes_training_batches_only_and_the_output_loads_in_plain_keras(
    keras_overfit, small_data, tmp_path
):
    keras = pytest.importorskip("keras")
    from plateau_cli.adapters.keras.handle import KerasHandle

    data = _arrays(small_data)
    with _captured(KerasHandle) as seen:
        report = _run(
            keras_overfit,
            tmp_path / "a",
            "--data",
            str(small_data),
            "--epochs",
            "2",
            "--noise",
            "1",
            "--copies",
            "4",
        )
    prepared = seen["prepared"]
    val = _tf_batches(prepared.val)
    assert np.concatenate([b[0] for b in val]).tobytes() == data["x_val"].tobytes()
    assert np.concatenate([b[1] for b in val]).tobytes() == data["y_val"].tobytes()
    clean = _tf_batches(prepared.train_eval)  # the same data without the transform, in order
    assert np.concatenate([b[0] for b in clean]).tobytes() == data["x_train"].tobytes()
    epoch = _tf_batches(prepared.train)
    assert len(epoch) == report_steps(len(data["x_train"]), 4) == prepared.steps
    augmented = np.concatenate([b[0] for b in epoch])
    labels = np.concatenate([b[1] for b in epoch])
    assert Counter(labels.tolist()) == Counter((data["y_train"].tolist()) * 4)
    _check_noise_spread(augmented, data["x_train"], 4, 1.0)

    _check_transforms_listed(report, {"noise": {"std_rel": 1.0, "features": 64}})
    parameters = report["strategy"]["parameters"]
    assert (parameters["copies"], parameters["noise"], parameters["bake"]) == (4, 1.0, False)
    loaded_lr = report["optimizer"]["learning_rate_at_load"]
    assert parameters["lr"] == pytest.approx(0.2 * loaded_lr)  # the default --lr-mult
    _check_training_loss(report)
    assert report["optimizer"]["state"] == "restored"

    written = keras.models.load_model(tmp_path / "a" / "model.keras")
    original = keras.models.load_model(keras_overfit)
    assert written.loss == original.loss == "sparse_categorical_crossentropy"
    evaluated = written.evaluate(data["x_val"], data["y_val"], verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(report["output_metrics"]["val_loss"], abs=1e-5)
    steps = report_steps(len(data["x_train"]), 4) * len(report["history"])
    assert int(written.optimizer.iterations) == int(original.optimizer.iterations) + steps
    assert float(written.optimizer.learning_rate) == pytest.approx(0.2 * loaded_lr)

    again = _run(
        keras_overfit,
        tmp_path / "b",
        "--data",
        str(small_data),
        "--epochs",
        "2",
        "--noise",
        "1",
        "--copies",
        "4",
    )
    assert again["history"] == report["history"]  # seeded: a re-run draws the same augmentation


def report_steps(samples: int, copies: int) -> int:
    return -(-samples * copies // BATCH)


@pytest.mark.keras
def test_keras_mixup_trains_on_soft_targets_and_the_model_keeps_its_sparse_loss(
    keras_overfit, small_data, tmp_path
):
    keras = pytest.importorskip("keras")
    from plateau_cli.adapters.keras.handle import KerasHandle

    data = _arrays(small_data)
    with _captured(KerasHandle) as seen:
        report = _run(
            keras_overfit,
            tmp_path,
            "--data",
            str(small_data),
            "--epochs",
            "1",
            "--mixup",
            "0.4",
            "--copies",
            "1",
        )
    x, y, weights = _tf_batches(seen["prepared"].train)[0]
    half = len(x) // 2
    assert half == BATCH
    assert np.array_equal(x[:half], x[half:])  # each mixed input, once per label
    assert weights[:half] + weights[half:] == pytest.approx(np.full(half, 2.0), abs=1e-6)
    assert y.dtype.kind == "i"
    _check_transforms_listed(report, {"mixup": {"alpha": 0.4}})
    assert report["strategy"]["details"]["mixup_labels"] == "sparse_categorical_crossentropy"
    written = keras.models.load_model(tmp_path / "model.keras")
    assert written.loss == "sparse_categorical_crossentropy"
    evaluated = written.evaluate(data["x_val"], data["y_val"], verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(report["output_metrics"]["val_loss"], abs=1e-5)


ALL_IMAGE = "flip,rotate=15,shift=0.1,zoom=0.1,contrast=0.2,brightness=0.2"
IMAGE_PARAMS = {
    "flip": {"mode": "horizontal"},
    "rotate": {"degrees": 15.0},
    "shift": {"fraction": 0.1},
    "zoom": {"fraction": 0.1},
    "contrast": {"factor": 0.2, "value_range": [0.0, 1.0]},
    "brightness": {"factor": 0.2, "value_range": [0.0, 1.0]},
}


@pytest.mark.keras
def test_keras_image_transforms_keep_shapes_and_range_and_leave_validation_alone(
    keras_cnn, image_data, tmp_path
):
    from plateau_cli.adapters.keras.handle import KerasHandle

    data = _arrays(image_data)
    with _captured(KerasHandle) as seen:
        report = _run(
            keras_cnn,
            tmp_path,
            "--data",
            str(image_data),
            "--epochs",
            "1",
            "--copies",
            "1",
            "--augment",
            ALL_IMAGE,
        )
    prepared = seen["prepared"]
    assert (
        np.concatenate([b[0] for b in _tf_batches(prepared.val)]).tobytes()
        == data["x_val"].tobytes()
    )
    augmented = np.concatenate([b[0] for b in _tf_batches(prepared.train)])
    assert augmented.shape == data["x_train"].shape
    assert augmented.min() >= 0.0
    assert augmented.max() <= 1.0
    clean_rows = {row.tobytes() for row in data["x_train"]}
    assert sum(row.tobytes() in clean_rows for row in augmented) == 0
    _check_transforms_listed(report, IMAGE_PARAMS)
    assert all(d["where"] == "input pipeline" for d in report["strategy"]["details"]["transforms"])


@pytest.mark.keras
def test_keras_bake_saves_layers_that_predict_skips(keras_cnn, image_data, tmp_path):
    keras = pytest.importorskip("keras")
    data = _arrays(image_data)
    report = _run(
        keras_cnn,
        tmp_path,
        "--data",
        str(image_data),
        "--epochs",
        "1",
        "--augment",
        "rotate=15,zoom=0.1",
        "--bake",
    )
    baked = keras.models.load_model(tmp_path / "model.keras")
    names = [layer.name for layer in baked.layers]
    assert names[1:3] == ["augment_rotate", "augment_zoom"]
    body = baked.layers[-1]
    assert np.array_equal(
        baked.predict(data["x_val"], verbose=0), body.predict(data["x_val"], verbose=0)
    )
    evaluated = baked.evaluate(data["x_val"], data["y_val"], verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(report["output_metrics"]["val_loss"], abs=1e-5)
    original = keras.models.load_model(keras_cnn)
    steps = report_steps(len(data["x_train"]), 4) * len(report["history"])
    assert int(baked.optimizer.iterations) == int(original.optimizer.iterations) + steps
    assert all(d["where"] == "model (baked)" for d in report["strategy"]["details"]["transforms"])


# -- PyTorch -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torch_overfit(tmp_path_factory, small_data) -> tuple[Path, list[str]]:
    sample = SAMPLES / "torch" / "augment" / "checkpoint.pt"
    if sample.exists():
        return sample, ["--model-factory", f"{SAMPLES / 'torch' / 'nets.py'}:mlp"]
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    data = _arrays(small_data)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    x, y = torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"])
    for _ in range(120):
        for index in torch.randperm(len(x)).split(BATCH):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[index]), y[index]).backward()
            optimizer.step()
    path = tmp_path_factory.mktemp("torch_overfit") / "checkpoint.pt"
    torch.save(
        {"model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict()},
        path,
    )
    return path, ["--model-factory", f"{NETS}:mlp", "--factory-arg", "hidden=64"]


def _plain_torch_val_loss(
    checkpoint: Path, factory_args: list[str], data: dict[str, np.ndarray]
) -> float:
    import importlib.util

    import torch

    nets_path, _, name = factory_args[1].rpartition(":")
    spec = importlib.util.spec_from_file_location("augment_test_nets", nets_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    kwargs = {"hidden": int(factory_args[3].split("=")[1])} if len(factory_args) > 2 else {}
    model = getattr(module, name)(**kwargs)
    model.load_state_dict(torch.load(checkpoint, weights_only=True)["model_state_dict"])
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(data["x_val"]))
        return float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(data["y_val"])))


@pytest.mark.torch
def test_torch_noise_changes_training_batches_only_and_the_output_loads_in_plain_torch(
    torch_overfit, small_data, tmp_path
):
    torch = pytest.importorskip("torch")
    from plateau_cli.adapters.torch.handle import TorchHandle

    model, factory = torch_overfit
    data = _arrays(small_data)
    with _captured(TorchHandle) as seen:
        report = _run(
            model,
            tmp_path / "a",
            *factory,
            "--data",
            str(small_data),
            "--epochs",
            "2",
            "--noise",
            "1",
            "--copies",
            "4",
        )
    prepared = seen["prepared"]
    val = list(prepared.val)
    assert torch.cat([b[0] for b in val]).numpy().tobytes() == data["x_val"].tobytes()
    assert torch.cat([b[1] for b in val]).numpy().tobytes() == data["y_val"].tobytes()
    x_in, y_in, x_out, y_out = seen["batch"]
    assert x_out.shape == x_in.shape
    assert torch.equal(y_out, y_in)
    assert not torch.equal(x_out, x_in)
    transform = seen["handle"].train_transform
    epoch = [transform(x, y) for x, y in prepared.train]
    assert len(epoch) == report_steps(len(data["x_train"]), 4)
    labels = torch.cat([b[1] for b in epoch]).tolist()
    assert Counter(labels) == Counter(data["y_train"].tolist() * 4)
    _check_noise_spread(torch.cat([b[0] for b in epoch]).numpy(), data["x_train"], 4, 1.0)

    _check_transforms_listed(report, {"noise": {"std_rel": 1.0, "features": 64}})
    _check_training_loss(report)
    assert report["optimizer"]["state"] == "restored"
    loss = _plain_torch_val_loss(tmp_path / "a" / "checkpoint.pt", factory, data)
    assert loss == pytest.approx(report["output_metrics"]["val_loss"], abs=1e-5)

    again = _run(
        model,
        tmp_path / "b",
        *factory,
        "--data",
        str(small_data),
        "--epochs",
        "2",
        "--noise",
        "1",
        "--copies",
        "4",
    )
    assert again["history"] == report["history"]


@pytest.mark.torch
def test_torch_mixup_trains_on_class_probabilities_and_validation_keeps_integer_labels(
    torch_overfit, small_data, tmp_path
):
    torch = pytest.importorskip("torch")
    from plateau_cli.adapters.torch.handle import TorchHandle

    model, factory = torch_overfit
    data = _arrays(small_data)
    with _captured(TorchHandle) as seen:
        report = _run(
            model,
            tmp_path,
            *factory,
            "--data",
            str(small_data),
            "--epochs",
            "1",
            "--mixup",
            "0.4",
            "--copies",
            "1",
            "--lr",
            "0.002",
        )
    _, y_in, x_out, y_out = seen["batch"]
    assert y_out.shape == (len(y_in), 10)
    assert y_out.sum(dim=1).numpy() == pytest.approx(np.ones(len(y_in)), abs=1e-6)
    assert x_out.shape == (len(y_in), 64)
    assert torch.cat([b[1] for b in seen["prepared"].val]).dtype == torch.int64
    assert 0.0 <= report["history"][0]["accuracy"] <= 1.0
    _check_transforms_listed(report, {"mixup": {"alpha": 0.4}})
    assert report["strategy"]["parameters"]["lr"] == 0.002  # the user's --lr wins
    assert report["strategy"]["parameters"]["lr_mult"] is None
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["optimizer_state_dict"]
    assert saved["param_groups"][0]["lr"] == 0.002
    loss = _plain_torch_val_loss(tmp_path / "checkpoint.pt", factory, data)
    assert loss == pytest.approx(report["output_metrics"]["val_loss"], abs=1e-5)


@pytest.fixture(scope="module")
def torch_cnn(tmp_path_factory, image_data) -> Path:
    torch = pytest.importorskip("torch")
    import importlib.util

    spec = importlib.util.spec_from_file_location("augment_test_nets", NETS)
    nets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nets)
    torch.manual_seed(0)
    model = nets.small_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    data = _arrays(image_data)
    x = torch.from_numpy(data["x_train"]).permute(0, 3, 1, 2)
    y = torch.from_numpy(data["y_train"])
    for index in torch.randperm(len(x)).split(BATCH):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x[index]), y[index]).backward()
        optimizer.step()
    path = tmp_path_factory.mktemp("torch_cnn") / "checkpoint.pt"
    torch.save(
        {"model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict()},
        path,
    )
    return path


@pytest.mark.torch
def test_torch_image_transforms_keep_shapes_and_range_and_leave_validation_alone(
    torch_cnn, image_data, tmp_path
):
    torch = pytest.importorskip("torch")
    from plateau_cli.adapters.torch.handle import TorchHandle

    data = _arrays(image_data)
    nchw = tmp_path / "digits_nchw.npz"
    np.savez(
        nchw, **{k: v.transpose(0, 3, 1, 2) if k.startswith("x") else v for k, v in data.items()}
    )
    with _captured(TorchHandle) as seen:
        report = _run(
            torch_cnn,
            tmp_path / "out",
            "--model-factory",
            f"{NETS}:small_cnn",
            "--data",
            str(nchw),
            "--epochs",
            "1",
            "--copies",
            "1",
            "--augment",
            ALL_IMAGE,
        )
    x_in, _, x_out, _ = seen["batch"]
    assert x_out.shape == x_in.shape == (BATCH, 1, 8, 8)
    assert float(x_out.min()) >= 0.0
    assert float(x_out.max()) <= 1.0
    assert float((x_out - x_in).abs().mean()) > 0.01
    val = torch.cat([b[0] for b in seen["prepared"].val]).numpy()
    assert val.tobytes() == data["x_val"].transpose(0, 3, 1, 2).tobytes()
    _check_transforms_listed(report, IMAGE_PARAMS)


@pytest.mark.torch
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--augment", "rotate"], "image transforms need image inputs"),
        (["--augment", "rotate", "--bake"], "--bake is for Keras models"),
        (["--lr", "0.001", "--lr-mult", "0.5"], "give --lr or --lr-mult, not both"),
    ],
)
def test_torch_refuses_what_cannot_apply_with_exit_2(
    torch_overfit, small_data, tmp_path, args, expected
):
    model, factory = torch_overfit
    result = run_cli(
        [
            "resume",
            str(model),
            "--strategy",
            "augment",
            *factory,
            "--data",
            str(small_data),
            "--out",
            str(tmp_path / "o"),
            *args,
        ]
    )
    assert result.code == 2
    assert expected in result.stderr
    assert not (tmp_path / "o").exists()


def test_unknown_transforms_fail_before_loading_anything(tmp_path):
    result = run_cli(
        [
            "resume",
            str(tmp_path / "absent.keras"),
            "--strategy",
            "augment",
            "--data",
            "x.npz",
            "--augment",
            "cutout",
        ]
    )
    assert result.code == 2
    assert "unknown transform 'cutout'" in result.stderr
    assert "rotate=10" in result.stderr


# -- an interrupted run, continued -----------------------------------------------------------
@pytest.mark.parametrize("framework", ["keras", "torch"])
def test_a_continued_run_augments_again_without_lowering_the_rate_twice(
    framework, keras_overfit, torch_overfit, small_data, tmp_path
):
    pytest.importorskip(framework)
    from plateau_cli.run import trainer as trainer_module

    model, factory = (keras_overfit, []) if framework == "keras" else torch_overfit
    original = trainer_module.Trainer.on_epoch_end

    def interrupt_after_the_first(self, epoch, logs):
        if epoch == 1:
            self.guard.request("SIGINT")
        return original(self, epoch, logs)

    out = tmp_path / "run"
    args = ["--strategy", "augment", *factory, "--data", str(small_data), "--epochs", "3"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer_module.Trainer, "on_epoch_end", interrupt_after_the_first)
        first = run_cli(["resume", str(model), *args, "--patience", "10", "--out", str(out)])
    assert first.code == 130, first.stderr
    # The factory is code: --continue runs it only when named again.
    result = run_cli(["resume", "--continue", str(out), *factory, "--json"])
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    history = report["history"]
    assert [row["epoch"] for row in history] == [1, 2, 3]
    rate = 0.2 * report["optimizer"]["learning_rate_at_load"]
    assert [row["lr"] for row in history] == pytest.approx([rate] * 3)  # lowered once
    clean = report["strategy"]["details"]["training_loss"]["clean"]
    assert all(row["loss"] > 10 * clean for row in history)  # still augmented after continuing
    assert any(e.startswith("augmentation re-established (noise;") for e in report["changes"])
