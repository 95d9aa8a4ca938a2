"""Tiny real Keras models and checkpoint files for the adapter tests (a few KB each)."""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from plateau_cli.adapters.base import LoadOptions
from plateau_cli.adapters.keras.adapter import KerasAdapter
from plateau_cli.adapters.keras.handle import KerasHandle
from plateau_cli.adapters.sniff import sniff_checkpoint
from plateau_cli.data.base import ArraySplit, DataBundle

keras = pytest.importorskip("keras")

FIXTURES = Path(__file__).parents[2] / "fixtures" / "keras"
FEATURES, CLASSES = 8, 3


def blobs(n: int = 160, seed: int = 0) -> DataBundle:
    """Gaussian blobs: learnable, not trivially; 75% train, 25% validation."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1.5, (CLASSES, FEATURES))
    y = rng.integers(0, CLASSES, n)
    x = (centers[y] + rng.normal(0, 1.0, (n, FEATURES))).astype(np.float32)
    cut = int(n * 0.75)
    return DataBundle(ArraySplit(x[:cut], y[:cut]), ArraySplit(x[cut:], y[cut:]), "npz", "b.npz")


def mlp(hidden: int = 4, seed: int = 0) -> Any:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(hidden, activation="relu", name="hidden"),
            keras.layers.Dense(CLASSES, activation="softmax", name="out"),
        ]
    )


def compiled(model: Any, optimizer: Any = "adam") -> Any:
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(model: Any, epochs: int = 2, batch_size: int = 32) -> Any:
    data = blobs()
    model.fit(data.train.x, data.train.y, epochs=epochs, batch_size=batch_size, verbose=0)
    return model


def save(model: Any, path: Path) -> Path:
    with warnings.catch_warnings():  # h5 saving: "considered legacy", numpy copy notices
        warnings.simplefilter("ignore")
        model.save(path)
    return path


def load(path: Path, **options: Any) -> KerasHandle:
    return KerasAdapter().load(path, sniff_checkpoint(path).format, LoadOptions(**options))


def rewrite_archive(
    source: Path,
    target: Path,
    *,
    config: Callable[[dict[str, Any]], None] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Copy a .keras archive, editing its config.json and/or replacing metadata.json."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            data = old.read(name)
            if name == "config.json" and config is not None:
                parsed = json.loads(data)
                config(parsed)
                data = json.dumps(parsed).encode()
            if name == "metadata.json" and metadata is not None:
                data = json.dumps(metadata).encode()
            new.writestr(name, data)
    return target


def keras2_h5(path: Path, which: str, *, optimizer_steps: int | None = None) -> Path:
    """A legacy .h5 as tf.keras 2.15 writes it, from the hand-written configs in fixtures."""
    configs = json.loads((FIXTURES / "keras2_configs.json").read_text())
    model_config = configs[which]
    layers = [
        layer
        for layer in model_config["config"]["layers"]
        if layer["class_name"] not in ("InputLayer", "TFOpLambda")
    ]
    shapes: dict[str, tuple[int, int]] = {}
    width = FEATURES
    for layer in layers:
        shapes[layer["config"]["name"]] = (width, layer["config"]["units"])
        width = layer["config"]["units"]
    with h5py.File(path, "w") as handle:
        handle.attrs["keras_version"] = configs["keras_version"]
        handle.attrs["backend"] = "tensorflow"
        handle.attrs["model_config"] = json.dumps(model_config)
        handle.attrs["training_config"] = json.dumps(configs["training_config"])
        weights = handle.create_group("model_weights")
        every = [
            layer.get("name", layer["config"]["name"]) for layer in model_config["config"]["layers"]
        ]
        names = [n for n in every if n != "dense_input"]
        weights.attrs["layer_names"] = [n.encode() for n in names]
        weights.attrs["backend"] = "tensorflow"
        weights.attrs["keras_version"] = configs["keras_version"]
        rng = np.random.default_rng(0)
        for name in names:
            group = weights.create_group(name)
            if name not in shapes:
                group.attrs["weight_names"] = np.array([], dtype="S1")
                continue
            group.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
            group.create_dataset(f"{name}/kernel:0", data=rng.normal(0, 0.5, shapes[name]))
            group.create_dataset(f"{name}/bias:0", data=np.zeros(shapes[name][1], "float32"))
        if optimizer_steps is not None:
            _keras2_adam_state(handle, shapes, optimizer_steps)
    return path


def _keras2_adam_state(handle: h5py.File, shapes: dict[str, tuple[int, int]], steps: int) -> None:
    """Keras 2's Adam layout: iter, then every m, then every v."""
    slots = [
        (f"Adam/{layer}/{var}/{slot}:0", shape if var == "kernel" else (shape[1],))
        for slot in ("m", "v")
        for layer, shape in shapes.items()
        for var in ("kernel", "bias")
    ]
    group = handle.create_group("optimizer_weights")
    group.attrs["weight_names"] = [b"Adam/iter:0", *(name.encode() for name, _ in slots)]
    group.create_dataset("Adam/iter:0", data=np.int64(steps))
    for name, shape in slots:
        group.create_dataset(name, data=np.full(shape, 0.01, "float32"))
