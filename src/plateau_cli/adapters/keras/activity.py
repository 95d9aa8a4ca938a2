"""Dead ReLU units of a Keras model, counted on the training data (FINDINGS §2).

A unit is dead when its activation is exactly 0 on every training sample: no gradient reaches
its incoming weights, so no learning rate can bring it back. Probed in inference mode through a
side model that outputs every ReLU-family activation at once (one pass over the data).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from plateau_cli.adapters.base import UnitActivity

#: Activations whose output is exactly 0 for negative inputs (ELU, GELU, leaky ReLU never are).
DEAD_CAN_HAPPEN = {"relu", "relu6"}


def _activation_name(layer: Any) -> str | None:
    if isinstance(layer, keras.layers.ReLU):
        return "relu" if not getattr(layer, "negative_slope", 0.0) else None
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    return name if name in DEAD_CAN_HAPPEN else None


def relu_layers(model: Any) -> list[tuple[Any, str]]:
    """Top-level layers (and layers of nested functional models) ending in a ReLU; not the
    output layer, whose units are the model's outputs rather than hidden capacity."""
    found: list[tuple[Any, str]] = []
    try:
        outputs = model.outputs
    except AttributeError:  # a subclassed model: no graph whose activations could be tapped
        return []
    output_layers = {id(t._keras_history.operation) for t in outputs}
    for layer in model.layers:
        name = _activation_name(layer)
        if name is not None and id(layer) not in output_layers:
            found.append((layer, name))
    return found


def unit_activity(model: Any, batches: Any) -> list[UnitActivity]:
    chosen = relu_layers(model)
    if not chosen:
        return []
    try:
        probe = keras.Model(model.inputs, [layer.output for layer, _ in chosen])
    except (ValueError, AttributeError, TypeError):  # a subclassed model: no graph to tap
        return []
    peaks: list[np.ndarray | None] = [None] * len(chosen)
    samples = 0
    for batch in batches:
        x = batch[0] if isinstance(batch, tuple) else batch
        outputs = probe(x, training=False)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        for i, out in enumerate(outputs):
            values = np.asarray(out)
            peak = values.reshape(-1, values.shape[-1]).max(axis=0)  # units on the last axis
            peaks[i] = peak if peaks[i] is None else np.maximum(peaks[i], peak)
        samples += int(np.asarray(keras.tree.flatten(x)[0]).shape[0])  # x: a dict for named inputs
    return [
        UnitActivity(layer.name, name, int(peak.shape[0]), int((peak <= 0).sum()), samples)
        for (layer, name), peak in zip(chosen, peaks, strict=True)
        if peak is not None
    ]
