"""The Keras family of the development zoo: the torch MLP recipes (make_zoo.recipe) as Keras 3
Sequential models, trained with Keras' own fit and saved as `model.keras` with their optimizer
state, plus `train_log.jsonl`. Imported by make_zoo.py for `--family keras`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from make_zoo import TUNE, load, recipe


def build(inputs: int, hidden: int, classes: int, **_: Any) -> Any:
    import keras

    return keras.Sequential(
        [
            keras.Input((inputs,)),
            keras.layers.Dense(hidden, activation="relu", name="hidden"),
            keras.layers.Dense(classes, name="logits"),
        ]
    )


def optimizer(name: str, lr: float) -> Any:
    import keras

    if name == "sgd":
        return keras.optimizers.SGD(lr)
    if name == "sgdm":
        return keras.optimizers.SGD(lr, momentum=0.9)
    if name == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=0.01)
    return keras.optimizers.Adam(lr)


def _compile(model: Any, opt: Any) -> None:
    import keras

    model.compile(
        optimizer=opt,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


def _fit(model: Any, d: dict, epochs: int, log: list, seed: int) -> None:
    history = model.fit(
        d["x_train"], d["y_train"], batch_size=32, epochs=epochs, verbose=0,
        validation_data=(d["x_val"], d["y_val"]), shuffle=True,
    )  # fmt: skip
    h = history.history
    for i in range(len(h["loss"])):
        log.append({"epoch": len(log) + 1, "loss": float(h["loss"][i]),
                    "val_loss": float(h["val_loss"][i]),
                    "val_accuracy": float(h["val_accuracy"][i])})  # fmt: skip


def make_keras(kind: str, dataset: str, out: Path, seed: int = 0) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(seed)
    x, y = load(dataset, seed)
    r = recipe(kind, x, y, seed)
    d = r["data"]
    model = build(**r["args"])
    log: list[dict[str, float]] = []
    if r.get("frozen"):
        keep = d["y_train"] < max(2, r["args"]["classes"] // 2)
        pre = {**d, "x_train": d["x_train"][keep], "y_train": d["y_train"][keep]}
        if keep.all():
            # A binary task has no "first half of the classes": pretraining on it would train
            # the base on the whole task (breast_cancer: continue already at 0.099, the floor;
            # benchmarks/zoo/range_test_rules.md). The base learns another task on the same
            # inputs instead, the
            # side of a random hyperplane, as a base pretrained elsewhere would.
            direction = np.random.default_rng(seed + 1).normal(size=d["x_train"].shape[1])
            pre["y_train"] = (d["x_train"] @ direction > 0).astype("int64")
        _compile(model, optimizer("adam", 1e-2))
        _fit(model, pre, 5, [], seed)
        head = model.get_layer("logits")
        head.kernel.assign(keras.initializers.GlorotUniform(seed)(head.kernel.shape))
        head.bias.assign(np.zeros(head.bias.shape, dtype="float32"))
        model.get_layer("hidden").trainable = False
    _compile(model, optimizer(*r["opt"]))
    _fit(model, d, r["epochs"], log, seed)
    where = out / f"{kind}--{dataset}"
    where.mkdir(parents=True, exist_ok=True)
    np.savez(where / "data.npz", **d)
    model.save(where / "model.keras")
    (where / "train_log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in log))
    final = log[-1]
    return {
        "kind": kind, "dataset": dataset, "half": "tune" if dataset in TUNE else "report",
        "dir": str(where), "factory": None, "args": r["args"], "family": "keras",
        "model": "model.keras", "lr": float(r["opt"][1]), "val_loss": final["val_loss"],
        "finite": all(math.isfinite(v) for v in final.values()),
    }  # fmt: skip
