"""normalize for Keras: a new model, Input -> Normalization(mean, variance) -> the old model,
with the inverse folded into the old model's first Dense/Conv and the same optimizer object
(its variables are the same), that layer's moments zeroed. The saved model keeps the
Normalization layer, so it takes raw inputs."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from plateau_cli.adapters.keras import optimizer as kopt
from plateau_cli.adapters.keras.handle import KerasHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.strategies.base import StrategyContext
from plateau_cli.strategies.normalize import balance, common
from plateau_cli.strategies.normalize.fold import fold, statistics
from plateau_cli.strategies.normalize.options import NormalizeOptions


def apply(
    handle: KerasHandle, data: DataBundle, context: StrategyContext, options: NormalizeOptions
) -> dict[str, Any]:
    model = handle.model
    layer = _first_layer(model)
    prepared = handle.prepare(data, context.batch_size, context.seed)
    x = np.concatenate([np.asarray(xb, dtype=np.float64) for xb, _ in prepared.train_eval])
    conv = isinstance(layer, keras.layers.Conv1D | keras.layers.Conv2D | keras.layers.Conv3D)
    axes = tuple(range(x.ndim - 1)) if conv else (0,)
    mean, std = statistics(x, axes)
    kernel = np.asarray(layer.kernel)
    # Kernel in torch layout (out, in, *spatial) for the fold.
    torch_layout = np.moveaxis(kernel, (-1, -2), (0, 1)) if conv else kernel.T
    flat_mean, flat_std = (mean, std) if conv else (mean.reshape(-1), std.reshape(-1))
    if torch_layout.shape[1] != flat_mean.size:
        raise StrategyNotApplicableError(
            f"{layer.name} takes {torch_layout.shape[1]} inputs but the data has"
            f" {flat_mean.size} features: it is not the layer that sees the raw inputs"
        )
    if getattr(layer, "bias", None) is None:
        raise StrategyNotApplicableError(
            f"{layer.name} has no bias to take the mean's shift (use_bias=False)"
        )
    val = [xb for xb, _ in prepared.val]
    before = [_predict(model, v) for v in val]
    raw_kernel, raw_bias = kernel.copy(), np.asarray(layer.bias).copy()
    w, b = fold(torch_layout, raw_bias, flat_mean, flat_std)
    layer.kernel.assign(np.moveaxis(w, (0, 1), (-1, -2)) if conv else w.T)
    layer.bias.assign(b)
    axis = -1 if conv or x.ndim == 2 else tuple(range(1, x.ndim))
    norm = keras.layers.Normalization(
        axis=axis,
        mean=mean,
        variance=std**2,
        name="plateau_standardize",
    )
    inputs = keras.Input(shape=x.shape[1:], dtype=model.inputs[0].dtype)
    wrapped = keras.Model(inputs, model(norm(inputs)), name=f"{model.name}_standardized")
    balanced = (
        _Chain(model, layer, ((x - mean) / std).astype("float32")) if options.balance else None
    )
    if balanced is not None and not balanced.links:
        balanced = None
    after = [_predict(wrapped, v) for v in val]
    change, spread = common.max_change(before, after)
    if balanced is not None and change > options.tolerance * max(spread, 1.0):
        balanced.undo()  # the next layer is not fed by these units alone: fold only
        balanced = None
        after = [_predict(wrapped, v) for v in val]
        change, spread = common.max_change(before, after)
    try:
        common.check_kept(change, spread, options.tolerance, layer.name)
    except StrategyNotApplicableError:
        layer.kernel.assign(raw_kernel)
        layer.bias.assign(raw_bias)
        raise
    arguments = kopt.compile_arguments(model)
    optimizer = model.optimizer
    _zero_slots(optimizer, [layer.kernel, layer.bias])
    if balanced is not None:
        _zero_slots(optimizer, [link.next_layer.kernel for link in balanced.links])
    arguments["optimizer"] = optimizer
    wrapped.compile(**arguments)
    handle.model = wrapped
    done = common.summary(layer.name, "a Normalization layer", mean, std, change)
    return {**done, **(balanced.summary() if balanced is not None else {})}


_BETWEEN = (
    keras.layers.ReLU, keras.layers.Dropout, keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D, keras.layers.MaxPooling3D, keras.layers.Flatten,
    keras.layers.Identity,
)  # fmt: skip


class _Balanced:
    """Units of the first layer rescaled, the inverse in the next layer; undoable."""

    def __init__(self, first: Any, next_layer: Any, scales: np.ndarray) -> None:
        self.first, self.next_layer, self.scales = first, next_layer, scales
        self._saved = [np.asarray(v).copy() for v in (first.kernel, first.bias, next_layer.kernel)]

    def undo(self) -> None:
        for v, saved in zip(
            (self.first.kernel, self.first.bias, self.next_layer.kernel), self._saved, strict=True
        ):
            v.assign(saved)

    def summary(self) -> dict[str, Any]:
        return common.balance_summary(self.next_layer.name, self.scales)


class _Chain:
    """Every ReLU layer from the first on rescaled in turn (each into the next); undoable."""

    def __init__(self, model: Any, first: Any, z: np.ndarray) -> None:
        self.links: list[_Balanced] = []
        current = first
        while (link := _balance(model, current, z)) is not None:
            self.links.append(link)
            current = link.next_layer

    def undo(self) -> None:
        for link in reversed(self.links):
            link.undo()

    def summary(self) -> dict[str, Any]:
        return common.chain_summary([link.summary() for link in self.links])


def _relu(layer: Any) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        return True
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "") == "relu"


def _balance(model: Any, layer: Any, z: np.ndarray) -> _Balanced | None:
    """Rescale `layer`'s ReLU units to unit spread (balance.py), when a Dense/Conv is fed by
    them through ReLU, dropout, max-pooling or flattening only (the model's layer order)."""
    layers = list(model.layers)
    at = next((i for i, candidate in enumerate(layers) if candidate is layer), None)
    if at is None:
        return None
    relu = _relu(layer)
    for i, candidate in enumerate(layers[at + 1 :], start=at + 1):  # noqa: B007
        if getattr(candidate, "kernel", None) is not None:
            break
        if isinstance(candidate, keras.layers.Activation):
            if not _relu(candidate):
                return None
            relu = True
        elif not isinstance(candidate, _BETWEEN):
            return None
        relu = relu or isinstance(candidate, keras.layers.ReLU)
    else:
        return None
    nxt = candidate
    if not relu or not hasattr(nxt, "kernel") or getattr(layer, "bias", None) is None:
        return None
    try:
        feeding = keras.Model(model.inputs, layers[i - 1].output)
    except (AttributeError, ValueError):
        return None
    # Called directly, batch by batch: `predict` traces a new function per model built here.
    out = np.concatenate([_predict(feeding, z[i : i + 1024]) for i in range(0, len(z), 1024)])
    units = int(np.asarray(layer.kernel).shape[-1])
    if out.ndim == 2 and out.shape[1] != units:  # a flattened map, channels last: unit-minor
        out = out.reshape(len(out), -1, units)
    scales = balance.unit_scales(out, channel_axis=-1)
    done = _Balanced(layer, nxt, scales)
    kernel = np.asarray(layer.kernel)
    layer.kernel.assign((kernel / scales).astype(kernel.dtype))
    layer.bias.assign((np.asarray(layer.bias) / scales).astype(kernel.dtype))
    k = np.asarray(nxt.kernel)
    if k.ndim == 2:  # Dense (in, out): scale_next works in torch layout (out, in)
        nxt.kernel.assign(balance.scale_next(k.T, scales, unit_major=False).T)
    else:  # Conv (*spatial, in, out): the input-channel axis
        shape = (1,) * (k.ndim - 2) + (-1, 1)
        nxt.kernel.assign((k * scales.reshape(shape)).astype(k.dtype))
    return done


def _first_layer(model: Any) -> Any:
    for layer in model.layers:
        if getattr(layer, "kernel", None) is not None:
            return layer
        if layer.weights:
            break
    raise StrategyNotApplicableError(
        "normalize found no Dense/Conv layer at the model's input to fold into"
    )


def _zero_slots(optimizer: Any, variables: list[Any]) -> None:
    if optimizer is None or not optimizer.built:
        return
    prefixes = [v.path.replace("/", "_") + "_" for v in variables]
    for slot in optimizer.variables:
        if any(slot.name.startswith(p) for p in prefixes):
            slot.assign(np.zeros(slot.shape, dtype=slot.dtype))


def _predict(model: Any, x: Any) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), dtype=np.float64)
