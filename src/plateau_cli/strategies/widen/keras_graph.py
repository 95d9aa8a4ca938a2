"""Keras' functional graph as widen's `Op`s, and where a Keras layer keeps its units.

Keras records every call of a layer as a node; the walk needs, per layer, its call sites (a
shared layer has several), the layers it reads and the layers that read it. Layers that do not
fit widen's model of a plain chain are classified `OTHER`, with the reason where one is known.
"""

from __future__ import annotations

import math
from typing import Any

from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.strategies.widen.arithmetic import UnitAxis
from plateau_cli.strategies.widen.graph import Chain, Graph, Kind, Op

_PER_UNIT = {
    "ReLU", "LeakyReLU", "ELU", "Dropout", "SpatialDropout1D", "SpatialDropout2D",
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
    "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
}  # fmt: skip
#: Activations that mix units: after them, a new unit would change the others' outputs.
_MIXING = {"softmax", "log_softmax"}


def read_graph(model: Any) -> Graph:
    """The model's layers as `Op`s, from Keras' own record of the calls (its nodes)."""
    if not _rebuildable(model):
        raise StrategyNotApplicableError(
            f"widen rebuilds Keras models from their config: a subclassed model"
            f" ({type(model).__name__}) has none; widen the layer in your code instead"
        )
    outputs = {t._keras_history.operation.name for t in model.outputs}
    live = _live_nodes(model)
    return Graph([_op(layer, layer.name in outputs, live) for layer in model.layers])


def _live_nodes(model: Any) -> set[int]:
    """ids of the nodes (call sites) of this model's graph.

    A layer keeps every node it was ever called in: a loaded Sequential model's layers also
    hold the node of a first build, which belongs to no graph. Keras keys its graph's nodes
    as "<id(layer)>_ib-<index>" (`functional.make_node_key`); only those count.
    """
    import keras

    functional = model._functional if isinstance(model, keras.Sequential) else model
    keys = functional._nodes
    return {
        id(node)
        for layer in functional.operations
        for index, node in enumerate(layer._inbound_nodes)
        if f"{id(layer)}_ib-{index}" in keys
    }


def _rebuildable(model: Any) -> bool:
    import keras

    return isinstance(model, keras.Sequential) or any(
        c.__name__ == "Functional" for c in type(model).__mro__
    )


def _op(layer: Any, is_output: bool, live: set[int]) -> Op:
    # Keras' record of the layer's call sites (nodes), limited to this model's graph.
    nodes = [n for n in layer._inbound_nodes if id(n) in live]
    inputs = tuple(p.operation.name for n in nodes[:1] for p in n.parent_nodes)
    outbound = layer._outbound_nodes
    users = tuple(n.operation.name for n in outbound if id(n) in live)
    kind, width, block, problem, layer_problem = _classify(layer)
    return Op(
        name=layer.name,
        kind=kind,
        type_name=type(layer).__name__,
        inputs=inputs,
        users=users,
        width=width,
        calls=max(len(nodes), 1),
        is_output=is_output,
        block=block,
        frozen=not layer.trainable,
        problem=problem,
        layer_problem=layer_problem,
    )


def _classify(layer: Any) -> tuple[Kind, int | None, int | None, str | None, str | None]:
    """(kind, width, flatten block, problem in any role, problem as the widened layer)."""
    import keras

    name = type(layer).__name__
    config = layer.get_config()
    channels_first = config.get("data_format") == "channels_first"
    activation = str(config.get("activation", "linear"))
    mixing = f"its activation {activation} mixes units" if activation in _MIXING else None
    if isinstance(layer, keras.Model):
        return Kind.OTHER, None, None, "a nested model (widen changes the outer layers)", None
    if name == "Dense":
        return Kind.DENSE, int(config["units"]), None, _quantized(layer), mixing
    if name == "Conv2D":
        grouped = "a grouped convolution" if config.get("groups", 1) != 1 else None
        layout = "channels_first data format (only channels_last)" if channels_first else None
        return Kind.CONV, int(config["filters"]), None, grouped or layout, mixing
    if name == "BatchNormalization":
        axis = config.get("axis")
        last = axis in (-1, [-1]) or axis == [len(layer.input.shape) - 1]
        return Kind.BATCH_NORM, None, None, None if last else f"axis {axis} (not the last)", None
    if name == "Flatten":
        if channels_first:
            return Kind.FLATTEN, None, None, "channels_first data format", None
        shape = tuple(layer.input.shape)
        known = all(d is not None for d in shape[1:-1])
        block = math.prod(shape[1:-1]) if known else None
        return Kind.FLATTEN, None, block, None, None
    if name == "Activation":
        if activation in _MIXING:
            return Kind.OTHER, None, None, f"{activation} mixes units", None
        return Kind.PER_UNIT, None, None, None, None
    if name in _PER_UNIT:
        return (
            Kind.PER_UNIT,
            None,
            None,
            "channels_first data format" if channels_first else None,
            None,
        )
    if name == "InputLayer":
        return Kind.INPUT, None, None, None, None
    return Kind.OTHER, None, None, None, None


def _quantized(layer: Any) -> str | None:
    if getattr(layer, "quantization_mode", None) or getattr(layer, "lora_enabled", False):
        return "a quantized or LoRA layer"
    return None


def layer_axis(chain: Chain) -> UnitAxis:
    return UnitAxis(-1)  # Dense (in, units) and Conv2D (kh, kw, in, filters)


def consumer_axis(chain: Chain) -> UnitAxis:
    # Dense kernel (in, out): axis 0; Conv2D (kh, kw, in, out): axis 2. Channels-last Flatten
    # puts the channel index fastest, so each unit's inputs are interleaved (inner=True).
    return UnitAxis(0 if chain.consumer.kind is Kind.DENSE else 2, chain.block, inner=True)
