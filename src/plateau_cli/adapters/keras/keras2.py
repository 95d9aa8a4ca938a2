"""What a tf.keras (Keras 2) `.h5` says about its optimizer, read from the file itself.

tf.keras 2.11+ stores `training_config.optimizer_config` as `{"class_name": "Custom>Adam",
"config": {"learning_rate": 0.00999..., ...}}`. Keras 3's legacy loader does not resolve the
`Custom>` name to its own Adam with that config, and the model comes back compiled with a
default Adam at 0.001: a run compiled at 0.01 would be resumed at a rate 10x lower than the
user's, and lr-decay would cut 100x while saying 10x. So the hyper-parameters the new optimizer
shares with the saved one (learning_rate, beta_1, momentum, ...) are taken from the file.

Its optimizer state, `iteration:0` then each variable's slots (`Adam/m/dense/kernel:0`,
`Adam/v/dense/kernel:0`), is Keras 3's layout without the `learning_rate` variable, so it
lines up once that one is left out. (Keras 2's legacy optimizers, before 2.11, store `iter`,
then every `m`, then every `v`: that layout stays unrestored and the report says so.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

_PREFIX = "Custom>"


def saved_optimizer_config(path: Path) -> dict[str, Any] | None:
    """`training_config.optimizer_config.config` of a legacy .h5, or None."""
    with h5py.File(path, "r") as handle:
        raw = handle.attrs.get("training_config")
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        training = json.loads(text)
    except ValueError:
        return None
    optimizer = training.get("optimizer_config") if isinstance(training, dict) else None
    config = optimizer.get("config") if isinstance(optimizer, dict) else None
    return dict(config) if isinstance(config, dict) else None


def saved_class_name(path: Path) -> str | None:
    with h5py.File(path, "r") as handle:
        raw = handle.attrs.get("training_config")
    if raw is None:
        return None
    try:
        training = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
        name = training["optimizer_config"]["class_name"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(name).removeprefix(_PREFIX)


def merged_config(
    current: dict[str, Any], saved: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """`current` with the saved scalar hyper-parameters both know; the keys that changed."""
    merged = dict(current)
    changed = []
    for key, value in saved.items():
        if key == "name" or key not in current or isinstance(value, dict | list):
            continue
        if isinstance(value, bool | int | float) or value is None:
            if value != current[key] and not (value is None and current[key] is None):
                changed.append(key)
            merged[key] = value
    return merged, changed


def keras2_layout(names: list[str], values: list[np.ndarray], variables: list[Any]) -> bool:
    """Assign tf.keras 2.11+ state (iteration, then slots) to a built Keras 3 optimizer whose
    variables are iteration, learning_rate, then the same slots; True when it lined up."""
    if not names or names[0].split("/")[-1].split(":")[0] != "iteration":
        return False
    if len(values) + 1 != len(variables):
        return False
    targets = [variables[0], *variables[2:]]
    if any(tuple(t.shape) != tuple(np.shape(v)) for t, v in zip(targets, values, strict=True)):
        return False
    for target, value in zip(targets, values, strict=True):
        target.assign(value)
    return True
