"""Dead ReLU units of a Keras model, counted on the training data (FINDINGS §2).

A unit is dead when its activation is exactly 0 on every training sample: no gradient reaches
its incoming weights, so no learning rate can bring it back. Probed in inference mode through
side models that output the ReLU-family activations (one pass over the data).

ReLUs are found wherever Keras exposes them as layers: a `ReLU` layer (MobileNetV2's `ReLU(6.)`
included), `Activation("relu")`, or a layer built with `activation="relu"`; in the model itself
and in nested models (a pretrained base used as a layer), named `base/layer` as `inspect` names
them. A nested model's layers live in its own graph, so each nested model gets its own side
model, fed eagerly with what reaches the nested model in the outer one; building the side
models from existing tensors adds no node to the user's layers (calling a model on symbolic
tensors would).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from plateau_cli.adapters.base import UnitActivity

#: Activations whose output is exactly 0 for negative inputs (ELU, GELU, leaky ReLU never are).
DEAD_CAN_HAPPEN = {"relu", "relu6"}
_GRAPH_ERRORS = (ValueError, AttributeError, TypeError, RuntimeError)


def _activation_name(layer: Any) -> str | None:
    if isinstance(layer, keras.layers.ReLU):
        if getattr(layer, "negative_slope", 0.0):
            return None
        return "relu6" if getattr(layer, "max_value", None) == 6 else "relu"
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    return name if name in DEAD_CAN_HAPPEN else None


def _output_layers(model: Any) -> set[int]:
    return {id(t._keras_history.operation) for t in model.outputs}


def relu_layers(model: Any) -> list[tuple[Any, str]]:
    """Top-level layers ending in a ReLU (what revive can reach); not the output layer, whose
    units are the model's outputs rather than hidden capacity."""
    try:
        output_layers = _output_layers(model)
    except AttributeError:  # a subclassed model: no graph whose activations could be tapped
        return []
    found: list[tuple[Any, str]] = []
    for layer in model.layers:
        name = _activation_name(layer)
        if name is not None and id(layer) not in output_layers:
            found.append((layer, name))
    return found


@dataclass
class _Probe:
    """A side model over one graph: its first outputs are ReLU activations (`taps`), the rest
    are what each nested model of that graph receives, for the nested probes (`children`)."""

    model: Any
    taps: list[tuple[str, str]]  # (name as inspect shows it, activation)
    children: list[_Probe]
    nested: bool

    def run(self, x: Any) -> list[np.ndarray]:
        outputs = self.model(x, training=False)
        outputs = list(outputs) if isinstance(outputs, list | tuple) else [outputs]
        values = [np.asarray(out) for out in outputs[: len(self.taps)]]
        for child, fed in zip(self.children, outputs[len(self.taps) :], strict=True):
            values += child.run(fed)
        return values

    def names(self) -> list[tuple[str, str, bool]]:
        found = [(name, activation, self.nested) for name, activation in self.taps]
        for child in self.children:
            found += child.names()
        return found


def _graph(container: Any) -> Any:
    """The Functional graph behind a model: itself, or a built Sequential's `_functional`."""
    if isinstance(container, keras.Sequential):
        return getattr(container, "_functional", None)
    return container


def _fed_tensor(layer: Any, graph: Any) -> Any:
    """What `layer` (a nested model) receives in `graph`: the input of its node there (a base
    shared by two models has a node in each); None when that cannot be told (Keras internals
    moved) or it takes several inputs, and the nested model is then left out."""
    try:
        from keras.src.ops.function import make_node_key

        own = graph._nodes
        nodes = list(layer._inbound_nodes)
    except (ImportError, AttributeError):
        return None
    for index, node in enumerate(nodes):
        if make_node_key(layer, index) in own:
            tensors = node.input_tensors
            return tensors[0] if len(tensors) == 1 else None
    return None


def _build(
    container: Any, prefix: str, excluded: set[int], nested: bool, descend: bool
) -> _Probe | None:
    graph = _graph(container)
    if graph is None:
        return None
    taps: list[tuple[str, str]] = []
    tensors: list[Any] = []
    children: list[_Probe] = []
    fed: list[Any] = []
    for layer in container.layers:
        if isinstance(layer, keras.Model):
            if not descend:
                continue
            tensor = _fed_tensor(layer, graph)
            try:
                inner_excluded = _output_layers(layer) if id(layer) in excluded else set()
            except AttributeError:
                continue
            child = _build(layer, f"{prefix}{layer.name}/", inner_excluded, True, True)
            if child is not None and tensor is not None:
                children.append(child)
                fed.append(tensor)
            continue
        name = _activation_name(layer)
        if name is None or id(layer) in excluded:
            continue
        try:
            tensors.append(layer.output)
        except _GRAPH_ERRORS:  # never called in a graph
            continue
        taps.append((prefix + layer.name, name))
    if not tensors and not children:
        return None
    try:
        inputs = container.inputs
        # One input as a tensor, not a list of one: called with a tensor, Keras would warn
        # that the structure differs on every batch.
        inputs = inputs[0] if len(inputs) == 1 else inputs
        model = keras.Model(inputs, [*tensors, *fed])
    except _GRAPH_ERRORS:  # a subclassed model: no graph to tap
        return None
    return _Probe(model, taps, children, nested)


def unit_activity(model: Any, batches: Any, nested: bool = True) -> list[UnitActivity]:
    """Per ReLU layer, how many units output 0 on every sample of `batches` (units on the last
    axis: a convolution's channels). `nested=False` keeps to top-level layers."""
    try:
        excluded = _output_layers(model)
    except AttributeError:
        return []
    probe = _build(model, "", excluded, False, descend=nested)
    if probe is None:
        return []
    chosen = probe.names()
    peaks: list[np.ndarray | None] = [None] * len(chosen)
    samples = 0
    for batch in batches:
        x = batch[0] if isinstance(batch, tuple) else batch
        for i, values in enumerate(probe.run(x)):
            peak = values.reshape(-1, values.shape[-1]).max(axis=0)
            peaks[i] = peak if peaks[i] is None else np.maximum(peaks[i], peak)
        samples += int(np.asarray(keras.tree.flatten(x)[0]).shape[0])  # x: a dict for named inputs
    return [
        UnitActivity(name, act, int(peak.shape[0]), int((peak <= 0).sum()), samples, inside)
        for (name, act, inside), peak in zip(chosen, peaks, strict=True)
        if peak is not None
    ]
