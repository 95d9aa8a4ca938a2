"""Train, stall and save the Keras samples; then measure what continuing would give.

Run by make_samples.py in a process of its own (`--worker keras`). Plain Keras 3 as a user
writes it: `compile` with keywords (positional metrics land in loss_weights, FINDINGS §5),
`fit` with a CSVLogger, `model.save("model.keras")`, which keeps the optimizer's state. The
transfer model follows Keras' own fine-tuning guide: a nested `base` model set
`trainable = False` before compiling, so the file holds the frozen flags and an optimizer built
over the head alone; its BatchNormalization runs in inference mode while frozen.
The checks reload the saved file (`keras.models.load_model`, safe mode) and fit on from it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf  # noqa: TID253 - this worker is the Keras training script

# One thread and deterministic kernels: the same sums in the same order on every run. Must be
# set before TensorFlow runs its first operation.
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.experimental.enable_op_determinism()

import keras  # noqa: E402, TID253 - after the threading set-up above

from scenarios import (  # noqa: E402
    BATCH_SIZE,
    CHECK_EPOCHS,
    MOMENTUM,
    PRETRAIN_CLASSES,
    PRETRAIN_EPOCHS,
    PRETRAIN_LR,
    WEIGHT_DECAY,
    Scenario,
)

CHECK_SEED_OFFSET = 1000
LEAKY_SLOPE = 0.1
Arrays = dict[str, np.ndarray]
HIDDEN = {"lr": 32, "widen": 4, "augment": 64, "dead": 64}
CHANNELS = 8
layers = keras.layers


def mlp(scenario: Scenario) -> keras.Model:
    """64 -> hidden -> 10 softmax; the hidden Dense layer is named `hidden`."""
    width = HIDDEN[scenario.name]
    if scenario.name == "lr":
        hidden = [
            layers.Dense(width, name="hidden"),
            layers.LeakyReLU(negative_slope=LEAKY_SLOPE, name="hidden_activation"),
        ]
    else:
        hidden = [layers.Dense(width, activation="relu", name="hidden")]
    return keras.Sequential(
        [
            keras.Input((64,), name="pixels"),
            *hidden,
            layers.Dense(10, activation="softmax", name="output"),
        ],
        name=f"{scenario.name}_mlp",
    )


def conv_base() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((8, 8, 1), name="base_input"),
            layers.Conv2D(CHANNELS, 3, padding="same", name="conv1"),
            layers.BatchNormalization(name="bn1"),
            layers.ReLU(name="relu1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(CHANNELS, 3, padding="same", activation="relu", name="conv2"),
            layers.GlobalAveragePooling2D(name="gap"),
        ],
        name="base",
    )


def with_head(base: keras.Model, classes: int, name: str) -> keras.Model:
    head = layers.Dense(classes, activation="softmax", name="head")
    return keras.Sequential([keras.Input((8, 8, 1), name="image"), base, head], name=name)


def optimizer(kind: str, lr: float) -> keras.optimizers.Optimizer:
    if kind == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=WEIGHT_DECAY)
    if kind == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=MOMENTUM)
    return keras.optimizers.Adam(learning_rate=lr)


def compile_model(model: keras.Model, opt: keras.optimizers.Optimizer) -> None:
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def rows(history: keras.callbacks.History) -> list[dict[str, float]]:
    logs = history.history
    keys = ("loss", "accuracy", "val_loss", "val_accuracy")
    return [
        {"epoch": epoch + 1, **{key: float(logs[key][epoch]) for key in keys if key in logs}}
        for epoch in range(len(logs["loss"]))
    ]


def build(scenario: Scenario, data: Arrays) -> keras.Model:
    if scenario.name != "unfreeze":
        return mlp(scenario)
    base = conv_base()
    keep = np.isin(data["y_train"], PRETRAIN_CLASSES)
    pretrain = with_head(base, len(PRETRAIN_CLASSES), "pretrain")
    compile_model(pretrain, keras.optimizers.Adam(learning_rate=PRETRAIN_LR))
    pretrain.fit(
        data["x_train"][keep],
        data["y_train"][keep],
        batch_size=BATCH_SIZE,
        epochs=PRETRAIN_EPOCHS,
        verbose=0,
    )
    base.trainable = False
    return with_head(base, 10, "transfer_cnn")


def inactive_units(model: keras.Model, x: np.ndarray) -> tuple[int, int] | None:
    """Hidden units whose pre-activation is <= 0 on every training example (dead for ReLU)."""
    try:
        kernel, bias = model.get_layer("hidden").get_weights()
    except ValueError:
        return None
    z = x @ kernel + bias
    return int((z.max(0) <= 0).sum()), int(z.shape[1])


def make_sample(scenario: Scenario, data: Arrays, out: Path, checks: bool) -> dict[str, Any]:
    started = time.perf_counter()
    recipe = scenario.keras
    keras.utils.set_random_seed(recipe.seed)
    model = build(scenario, data)
    compile_model(model, optimizer(scenario.optimizer, recipe.lr))
    out.mkdir(parents=True, exist_ok=True)
    history = model.fit(
        data["x_train"],
        data["y_train"],
        batch_size=BATCH_SIZE,
        epochs=recipe.epochs,
        validation_data=(data["x_val"], data["y_val"]),
        callbacks=[keras.callbacks.CSVLogger(str(out / "training.log"))],
        shuffle=True,
        verbose=0,
    )
    path = out / "model.keras"
    partial = out / "model.partial.keras"  # save() wants the .keras suffix
    model.save(partial)
    os.replace(partial, path)
    result: dict[str, Any] = {
        "params": int(model.count_params()),
        "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "inactive_units": inactive_units(model, data["x_train"]),
        "history": rows(history),
        "checks": {},
    }
    if checks:
        for name, factor in (("continue", 1.0), ("lr_x0.1", 0.1)):
            result["checks"][name] = resume(scenario, path, data, factor)
    result["seconds"] = time.perf_counter() - started
    return result


def resume(
    scenario: Scenario, path: Path, data: Arrays, lr_factor: float
) -> list[dict[str, float]]:
    """CHECK_EPOCHS more epochs from the saved file, the learning rate times `lr_factor`."""
    keras.utils.set_random_seed(scenario.keras.seed + CHECK_SEED_OFFSET)
    model = keras.models.load_model(path)
    model.optimizer.learning_rate.assign(scenario.keras.lr * lr_factor)
    history = model.fit(
        data["x_train"],
        data["y_train"],
        batch_size=BATCH_SIZE,
        epochs=CHECK_EPOCHS,
        validation_data=(data["x_val"], data["y_val"]),
        shuffle=True,
        verbose=0,
    )
    return rows(history)


def run(scenarios: list[Scenario], root: Path, checks: bool) -> list[dict[str, Any]]:
    results = []
    for scenario in scenarios:
        with np.load(root / "data" / scenario.keras_data) as archive:
            data = {key: archive[key] for key in archive.files}
        result = make_sample(scenario, data, root / "keras" / scenario.name, checks)
        results.append({"scenario": scenario.name, "framework": "keras", **result})
        print(f"  keras/{scenario.name}: {result['seconds']:.1f} s", flush=True)
    return results
