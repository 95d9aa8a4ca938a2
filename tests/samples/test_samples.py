"""The bundled sample models: present, small, loadable by plain Keras / torch, with the state
plateau-cli resumes from, and consistent with their data, logs, figures.json and README.

No training: loading and one forward pass over the 360 validation digits per sample. Every
sample's recorded val_loss (figures.json, the README) is recomputed from the file itself, so
regenerating one without the other fails here.
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "sample_models"
MAX_BYTES = 2 * 1024 * 1024
BATCH_SIZE = 32
NAMES = ("lr", "widen", "unfreeze", "augment", "dead")
FRAMEWORKS = ("keras", "torch")
DATA = {
    "digits.npz": ((1437, 64), (360, 64)),
    "digits_small.npz": ((120, 64), (360, 64)),
    "digits_images.npz": ((1437, 8, 8, 1), (360, 8, 8, 1)),
    "digits_images_nchw.npz": ((1437, 1, 8, 8), (360, 1, 8, 8)),
}


@pytest.fixture(scope="module")
def samples() -> Iterator[tuple[ModuleType, ModuleType]]:
    """scenarios.py and readme_tables.py, imported the way make_samples.py imports them."""
    sys.path.insert(0, str(SAMPLES))
    try:
        import readme_tables
        import scenarios

        yield scenarios, readme_tables
    finally:
        sys.path.remove(str(SAMPLES))


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    return json.loads((SAMPLES / "figures.json").read_text())


def load_npz(name: str) -> dict[str, np.ndarray]:
    with np.load(SAMPLES / "data" / name, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def model_file(framework: str, name: str) -> Path:
    return SAMPLES / framework / name / ("model.keras" if framework == "keras" else "checkpoint.pt")


def cross_entropy(probabilities: np.ndarray, y: np.ndarray) -> float:
    picked = np.clip(probabilities[np.arange(len(y)), y], 1e-7, 1.0)
    return float(-np.log(picked).mean())


@pytest.mark.parametrize("name", sorted(DATA))
def test_data_files_follow_the_npz_contract(name):
    arrays = load_npz(name)
    train_shape, val_shape = DATA[name]
    assert sorted(arrays) == ["x_train", "x_val", "y_train", "y_val"]
    assert arrays["x_train"].shape == train_shape
    assert arrays["x_val"].shape == val_shape
    for split in ("train", "val"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        assert x.dtype == np.float32
        assert x.min() >= 0.0
        assert x.max() <= 1.0
        assert y.dtype == np.int64
        assert y.shape == (len(x),)
        assert sorted(np.unique(y)) == list(range(10))


def test_data_files_hold_the_same_digits():
    vectors = load_npz("digits.npz")
    small = load_npz("digits_small.npz")
    nhwc = load_npz("digits_images.npz")
    nchw = load_npz("digits_images_nchw.npz")
    for arrays in (small, nhwc, nchw):
        np.testing.assert_array_equal(arrays["y_val"], vectors["y_val"])
        np.testing.assert_array_equal(arrays["x_val"].reshape(360, 64), vectors["x_val"])
    np.testing.assert_array_equal(nhwc["x_train"].reshape(-1, 64), vectors["x_train"])
    np.testing.assert_array_equal(nchw["x_train"].transpose(0, 2, 3, 1), nhwc["x_train"])
    assert np.bincount(small["y_train"]).tolist() == [12] * 10
    rows = {row.tobytes() for row in vectors["x_train"]}
    assert all(row.tobytes() in rows for row in small["x_train"])


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("name", NAMES)
def test_every_sample_is_present_and_small(framework, name):
    path = model_file(framework, name)
    log = path.parent / ("training.log" if framework == "keras" else "train_log.jsonl")
    assert path.is_file(), f"{path} is missing: run python sample_models/make_samples.py"
    assert 0 < path.stat().st_size < MAX_BYTES
    assert log.is_file()


def test_readme_tables_match_the_figures(samples, figures):
    scenarios, readme_tables = samples
    text = (SAMPLES / "README.md").read_text(encoding="utf-8")
    assert readme_tables.samples_table() in text
    assert readme_tables.figures_table(figures) in text
    assert set(figures) == {f"{fw}/{n}" for n in NAMES for fw in FRAMEWORKS}
    assert {s.name for s in scenarios.SCENARIOS} == set(NAMES)


def test_readme_commands_name_files_that_exist(samples):
    scenarios, readme_tables = samples
    for scenario in scenarios.SCENARIOS:
        for framework in FRAMEWORKS:
            words = readme_tables.command(scenario, framework).split()
            paths = [w.split(":")[0] for w in words if w.startswith("sample_models/")]
            assert len(paths) >= 2
            for path in paths:
                assert (SAMPLES.parent / path).is_file(), path


def test_the_samples_are_stalled_as_figures_json_says(samples, figures):
    """The checks make_samples.py made when it wrote these files (continuing changes little)."""
    for key, f in figures.items():
        assert f["continue"] is not None, f"{key}: generated with --no-checks"
        assert f["continue"]["best_val_loss"] >= 0.9 * f["best_val_loss"], key
    lr = [figures[f"{fw}/lr"] for fw in FRAMEWORKS]
    assert all(f["lr_x0.1"]["best_val_loss"] < f["continue"]["best_val_loss"] - 0.03 for f in lr)
    dead = [figures[f"{fw}/dead"]["inactive_units"] for fw in FRAMEWORKS]
    assert all(int(d.split("/")[0]) >= 48 for d in dead)
    assert all(figures[f"{fw}/widen"]["inactive_units"] == "0/4" for fw in FRAMEWORKS)


# --- Keras -------------------------------------------------------------------------------------


@pytest.mark.keras
@pytest.mark.parametrize("name", NAMES)
def test_keras_sample_loads_with_its_optimizer_state(samples, figures, name):
    keras = pytest.importorskip("keras")
    scenario = samples[0].BY_NAME[name]
    model = keras.models.load_model(model_file("keras", name))  # safe_mode=True
    data = load_npz(scenario.keras_data)
    f = figures[f"keras/{name}"]
    steps = f["epochs"] * math.ceil(len(data["x_train"]) / BATCH_SIZE)
    assert int(model.optimizer.iterations.numpy()) == steps
    assert model.input_shape[1:] == data["x_val"].shape[1:]
    assert model.count_params() == f["params"]
    probabilities = np.asarray(model(data["x_val"], training=False))
    assert probabilities.shape == (360, 10)
    assert cross_entropy(probabilities, data["y_val"]) == pytest.approx(f["val_loss"], abs=1e-4)
    with (SAMPLES / "keras" / name / "training.log").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == f["epochs"]
    assert {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    assert float(rows[-1]["val_loss"]) == pytest.approx(f["val_loss"], abs=1e-6)


@pytest.mark.keras
def test_keras_unfreeze_sample_has_a_frozen_base_and_a_head_only_optimizer():
    keras = pytest.importorskip("keras")
    model = keras.models.load_model(model_file("keras", "unfreeze"))
    base = model.get_layer("base")
    assert [layer.trainable for layer in base.layers] == [False] * len(base.layers)
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in base.layers)
    assert [w.path for w in model.trainable_weights] == ["head/kernel", "head/bias"]
    # Adam: iteration, learning_rate, then a first and a second moment per trained variable.
    moments = [v for v in model.optimizer.variables if v.shape != ()]
    assert sorted(tuple(v.shape) for v in moments) == [(8, 10), (8, 10), (10,), (10,)]


# --- torch -------------------------------------------------------------------------------------


def load_nets() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sample_nets", SAMPLES / "torch" / "nets.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.torch
@pytest.mark.parametrize("name", NAMES)
def test_torch_sample_loads_with_its_optimizer_state(samples, figures, name):
    torch = pytest.importorskip("torch")
    scenario = samples[0].BY_NAME[name]
    saved = torch.load(model_file("torch", name), weights_only=True)
    assert set(saved) == {"model_state_dict", "optimizer_state_dict", "epoch", "loss"}
    f = figures[f"torch/{name}"]
    data = load_npz(scenario.torch_data)
    assert saved["epoch"] == f["epochs"]
    assert saved["loss"] == pytest.approx(f["train_loss"])
    kwargs = {k: _literal(v) for k, v in scenario.factory_args}
    model = getattr(load_nets(), scenario.factory)(**kwargs)
    model.load_state_dict(saved["model_state_dict"], strict=True)
    optimizer = saved["optimizer_state_dict"]
    moments = "momentum_buffer" if scenario.optimizer == "sgd" else "exp_avg"
    assert optimizer["state"], "no optimizer state"
    assert all(moments in entry for entry in optimizer["state"].values())
    steps = f["epochs"] * math.ceil(len(data["x_train"]) / BATCH_SIZE)
    if moments == "exp_avg":
        assert all(int(entry["step"]) == steps for entry in optimizer["state"].values())
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(data["x_val"]))
    assert tuple(logits.shape) == (360, 10)
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(data["y_val"])).item()
    assert loss == pytest.approx(f["val_loss"], abs=1e-5)
    lines = (SAMPLES / "torch" / name / "train_log.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [row["epoch"] for row in rows] == list(range(1, saved["epoch"] + 1))
    assert set(rows[-1]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert rows[-1]["val_loss"] == pytest.approx(f["val_loss"])


def _literal(raw: str) -> Any:
    """A --factory-arg value as plateau-cli reads it: a Python literal, else the string."""
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


@pytest.mark.torch
def test_torch_unfreeze_sample_optimizer_holds_only_the_head():
    torch = pytest.importorskip("torch")
    saved = torch.load(model_file("torch", "unfreeze"), weights_only=True)
    model = load_nets().small_cnn()
    model.load_state_dict(saved["model_state_dict"])
    groups = saved["optimizer_state_dict"]["param_groups"]
    assert [len(group["params"]) for group in groups] == [2]
    assert len(list(model.parameters())) == 8
    assert {"base.1.running_mean", "base.1.running_var"} <= set(saved["model_state_dict"])
    shapes = sorted(
        tuple(e["exp_avg"].shape) for e in saved["optimizer_state_dict"]["state"].values()
    )
    assert shapes == [(10,), (10, 8)]


@pytest.mark.torch
def test_torch_factory_rejects_an_unknown_activation():
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="activation must be one of relu, leaky_relu"):
        load_nets().mlp(activation="tanh")
