"""regularize for Keras: the optimizer's (decoupled) weight_decay and every Dropout layer's
rate, then a recompile so the training step is traced again with them."""

from __future__ import annotations

from typing import Any

import keras

from plateau_cli.adapters.keras import optimizer as kopt
from plateau_cli.adapters.keras.handle import KerasHandle
from plateau_cli.strategies.regularize.options import DECOUPLED_DECAY, RegularizeOptions


def apply(handle: KerasHandle, options: RegularizeOptions) -> tuple[list[str], dict[str, Any]]:
    model = handle.model
    optimizer = model.optimizer
    decay = DECOUPLED_DECAY if options.weight_decay is None else options.weight_decay
    old = float(getattr(optimizer, "weight_decay", None) or 0.0)
    new = max(old, decay)
    optimizer.weight_decay = new
    changes = [f"decoupled weight decay {old:g} -> {new:g} ({type(optimizer).__name__})"]
    raised = []
    for layer in _layers(model):
        if isinstance(layer, keras.layers.Dropout) and layer.rate < options.dropout:
            raised.append(f"{layer.name} {layer.rate:g} -> {options.dropout:g}")
            layer.rate = options.dropout
    changes.append(
        f"dropout raised: {', '.join(raised)}"
        if raised
        else "no Dropout below the target rate: dropout unchanged (no layer is added)"
    )
    kopt.recompile_with(model, optimizer)
    return changes, {"weight_decay": new, "decoupled": True, "dropout": options.dropout}


def _layers(model: Any) -> list[Any]:
    out = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers"):
            out.extend(_layers(layer))
    return out


def copy_optimizer_state(handle: KerasHandle, other: KerasHandle) -> str:
    """The rolled-back checkpoint's optimizer state into the running optimizer, where it fits."""
    from plateau_cli.adapters.base import OptimizerState

    source = getattr(other.model, "optimizer", None)
    target = getattr(handle.model, "optimizer", None)
    if other.optimizer_state is not OptimizerState.RESTORED or source is None or target is None:
        return "weights; it holds no optimizer state, so the given checkpoint's continues"
    try:
        kopt.copy_state(source, target)
    except (RuntimeError, ValueError):
        return "weights; its optimizer state does not fit, so the given checkpoint's continues"
    return "weights and optimizer state"
