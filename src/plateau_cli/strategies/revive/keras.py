"""revive for Keras: per-unit peaks of each ReLU layer's output over the training data (one
side model), then the dead units' kernel slices assigned in place and their moments zeroed."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from plateau_cli.adapters.keras.activity import relu_layers
from plateau_cli.adapters.keras.handle import KerasHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.strategies.base import StrategyContext
from plateau_cli.strategies.revive.arithmetic import consumer_inputs, revive_arrays
from plateau_cli.strategies.revive.common import relu_chains
from plateau_cli.strategies.revive.options import ReviveOptions
from plateau_cli.strategies.widen.keras_graph import read_graph


def apply(
    handle: KerasHandle, data: DataBundle, context: StrategyContext, options: ReviveOptions
) -> tuple[list[Any], float, list[str]]:
    from plateau_cli.strategies.revive import Revived

    model = handle.model
    own = {layer.name for layer, _ in relu_layers(model)}
    chains = relu_chains(read_graph(model), options.layer, own)
    prepared = handle.prepare(data, context.batch_size, context.seed)
    val = [x for x, _ in prepared.val]
    peaks = _peaks(model, [c.layer.name for c in chains], prepared.train_eval)
    before = [_predict(model, x) for x in val]
    rng = np.random.default_rng(context.seed)
    revived, reset = [], []
    for chain in chains:
        dead = np.flatnonzero(peaks[chain.layer.name] <= 0)
        if not len(dead):
            continue
        layer, consumer = model.get_layer(chain.layer.name), model.get_layer(chain.consumer.name)
        kernel = np.asarray(layer.kernel)
        units_last = np.moveaxis(kernel, -1, 0)  # (out, ..., in) -> rows are units
        rows = units_last.reshape(units_last.shape[0], -1)
        out = np.asarray(consumer.kernel)
        out_rows = np.moveaxis(out, -2, -1).reshape(-1, out.shape[-2]) if out.ndim > 2 else out.T
        bias = np.asarray(layer.bias) if getattr(layer, "bias", None) is not None else None
        new_rows, new_bias, new_out = revive_arrays(
            rows, bias, out_rows, dead, chain.block, True, rng, options.init_scale
        )
        layer.kernel.assign(np.moveaxis(new_rows.reshape(units_last.shape), 0, -1))
        if new_bias is not None:
            layer.bias.assign(new_bias)
        if out.ndim > 2:
            shape = (*out.shape[:-2], out.shape[-1], out.shape[-2])
            consumer.kernel.assign(np.moveaxis(new_out.reshape(shape), -1, -2))
        else:
            consumer.kernel.assign(new_out.T)
        width = rows.shape[0]
        inputs = consumer_inputs(dead, width, chain.block, True)
        reset += _zero_slots(model.optimizer, layer.kernel, dead, axis=-1)
        if new_bias is not None:
            reset += _zero_slots(model.optimizer, layer.bias, dead, axis=0)
        reset += _zero_slots(model.optimizer, consumer.kernel, inputs, axis=-2)
        revived.append(Revived(layer.name, width, len(dead), consumer.name))
    if not revived:
        raise StrategyNotApplicableError(
            "revive found no dead unit: every unit of "
            + ", ".join(c.layer.name for c in chains)
            + " is active on some training sample"
        )
    after = [_predict(model, x) for x in val]
    change = max(float(np.max(np.abs(a - b))) for a, b in zip(after, before, strict=True))
    return revived, change, sorted(set(reset))


def _zero_slots(optimizer: Any, variable: Any, index: np.ndarray, axis: int) -> list[str]:
    """Zero the optimizer's slots (moments) of `variable` at `index` along `axis`."""
    if optimizer is None or not optimizer.built:
        return []
    prefix = variable.path.replace("/", "_") + "_"
    touched = []
    for slot in optimizer.variables:
        if slot.name.startswith(prefix) and tuple(slot.shape) == tuple(variable.shape):
            value = np.array(slot.numpy())
            where = [slice(None)] * value.ndim
            where[axis] = index
            value[tuple(where)] = 0
            slot.assign(value)
            touched.append(variable.path)
    return touched


def _peaks(model: Any, names: list[str], batches: Any) -> dict[str, np.ndarray]:
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    peaks: dict[str, np.ndarray] = {}
    for x, _ in batches:
        outs = probe(x, training=False)
        outs = outs if isinstance(outs, list | tuple) else [outs]
        for name, out in zip(names, outs, strict=True):
            values = np.asarray(out)
            peak = values.reshape(-1, values.shape[-1]).max(axis=0)
            peaks[name] = peak if name not in peaks else np.maximum(peaks[name], peak)
    return peaks


def _predict(model: Any, x: Any) -> np.ndarray:
    """Every output (a dict or list of them: several outputs) side by side, per sample."""
    parts = [
        np.asarray(keras.ops.convert_to_numpy(p), dtype=np.float64)
        for p in keras.tree.flatten(model(x, training=False))
    ]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([p.reshape(len(p), -1) for p in parts], 1)
