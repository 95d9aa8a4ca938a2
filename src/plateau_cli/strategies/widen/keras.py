"""widen for Keras: read the functional graph, rebuild the model wider, remap the optimizer.

Keras cannot resize a built layer, so the model is rebuilt from its own config with the new
width (Sequential and functional models; a subclassed model has no config to rebuild from and
is refused), every other layer's weights are copied by name, and the model is compiled again
with an optimizer of the same class and config, whose state is remapped variable by variable
(`arithmetic.remap_slot`): `iterations` continue, untouched layers keep their moments.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

import keras
import numpy as np

from plateau_cli.adapters.keras.handle import KerasHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.strategies.base import StrategyContext, StrategyOutcome
from plateau_cli.strategies.widen import keras_state, plan
from plateau_cli.strategies.widen.arithmetic import UnitMap
from plateau_cli.strategies.widen.graph import Chain, Kind
from plateau_cli.strategies.widen.keras_graph import consumer_axis, layer_axis, read_graph
from plateau_cli.strategies.widen.options import WidenOptions
from plateau_cli.strategies.widen.outcome import Widened, build_outcome


def apply(
    handle: KerasHandle, data: DataBundle, context: StrategyContext, options: WidenOptions
) -> StrategyOutcome:
    model = handle.model
    graph = read_graph(model)
    chain, chosen_by = graph.choose(options.layer)
    old_width = int(chain.layer.width or 0)
    new_width = options.new_width(old_width)
    rng = np.random.default_rng(context.seed)
    units = plan.unit_map(options.init, old_width, new_width, rng)
    wider = _rebuild(model, chain, new_width)
    arrays = _widened_arrays(model, wider, chain, units, options, rng)
    _copy_weights(model, wider, arrays)
    inputs = list(_validation_inputs(handle, data, context))
    original = [_predict(model, x) for x in inputs]
    before = plan.check_preserved(
        chain, options.init, original, [_predict(wider, x) for x in inputs]
    )
    after = None
    if options.effective_noise > 0:
        kernel = wider.get_layer(chain.layer.name).kernel
        kernel.assign(plan.noisy(np.asarray(kernel), layer_axis(chain), units, options, rng))
        after = plan.max_abs_change(original, [_predict(wider, x) for x in inputs])
    remap = keras_state.recompile(handle, model, wider, chain, units, options)
    handle.model = wider
    handle.optimizer_state, handle.optimizer_detail = remap.state, remap.detail
    widened = Widened(
        chain=chain,
        chosen_by=chosen_by,
        new_width=new_width,
        init=options.init,
        noise=options.effective_noise,
        change_before_noise=before,
        change_after_noise=after,
        samples=sum(len(keras.tree.flatten(x)[0]) for x in inputs),
        params_before=int(model.count_params()),
        params_after=int(wider.count_params()),
        optimizer=remap,
    )
    return build_outcome(widened, options, context.seed)


def target(handle: KerasHandle, data: DataBundle, context: StrategyContext) -> tuple[str, int]:
    chain, _ = read_graph(handle.model).choose(None)
    return chain.layer.name, int(chain.layer.width or 0)


# -- rebuilding -----------------------------------------------------------------------------


def _rebuild(model: Any, chain: Chain, new_width: int) -> Any:
    """The same model from its config, the chosen layer `new_width` wide."""
    config = model.get_config()
    touched = {chain.layer.name, chain.consumer.name, *(n.name for n in chain.batch_norms)}
    for entry in config["layers"]:
        layer_config = entry["config"]
        if layer_config.get("name") not in touched:
            continue
        entry.pop("build_config", None)  # built again by the call, at the new input width
        if layer_config["name"] == chain.layer.name:
            layer_config["units" if chain.layer.kind is Kind.DENSE else "filters"] = new_width
    try:
        return type(model).from_config(config)
    except (ValueError, TypeError, KeyError) as exc:
        raise StrategyNotApplicableError(
            f"cannot rebuild {model.name} from its config to widen {chain.layer.name}: {exc}"
        ) from exc


def _weights(layer: Any) -> dict[str, np.ndarray]:
    return {v.name: np.asarray(v) for v in layer.weights}


def _widened_arrays(
    model: Any,
    wider: Any,
    chain: Chain,
    units: UnitMap,
    options: WidenOptions,
    rng: np.random.Generator,
) -> dict[str, dict[str, np.ndarray]]:
    """Weight name -> array, per touched layer, before any noise."""
    layer = _weights(model.get_layer(chain.layer.name))
    kernel, bias = plan.layer_arrays(
        layer["kernel"], layer.get("bias"), layer_axis(chain), units, options, rng
    )
    out = {chain.layer.name: _named(kernel=kernel, bias=bias)}
    for norm in chain.batch_norms:
        values = _weights(model.get_layer(norm.name))
        grown = plan.norm_arrays({k: values.get(v) for k, v in _NORM_NAMES.items()}, units, options)
        out[norm.name] = _named(**{_NORM_NAMES[k]: v for k, v in grown.items()})
    consumer = _weights(model.get_layer(chain.consumer.name))
    new_fan_in = int(np.prod(wider.get_layer(chain.consumer.name).kernel.shape[:-1]))
    kernel, bias = plan.consumer_arrays(
        consumer["kernel"],
        consumer.get("bias"),
        consumer_axis(chain),
        units,
        options,
        new_fan_in,
        rng,
    )
    out[chain.consumer.name] = _named(kernel=kernel, bias=bias)
    return out


_NORM_NAMES = {
    "gamma": "gamma",
    "beta": "beta",
    "mean": "moving_mean",
    "variance": "moving_variance",
}


def _named(**arrays: np.ndarray | None) -> dict[str, np.ndarray]:
    return {name: value for name, value in arrays.items() if value is not None}


def _copy_weights(model: Any, wider: Any, arrays: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    for target in wider.layers:
        source = model.get_layer(target.name)
        if target.name in arrays:
            for variable in target.weights:
                variable.assign(arrays[target.name][variable.name])
        elif source.weights:
            target.set_weights(source.get_weights())
        if hasattr(source, "save_assets") and hasattr(target, "load_assets"):
            _copy_assets(source, target)


def _copy_assets(source: Any, target: Any) -> None:
    """An adapted vocabulary (TextVectorization, StringLookup) lives in a lookup table, not in
    the weights: `from_config` builds the layer empty ("Table not initialized" on the first
    call). Carried over the way a .keras archive carries it: own variables, then assets."""
    store: dict[str, Any] = {}
    source.save_own_variables(store)
    target.load_own_variables(store)
    with tempfile.TemporaryDirectory(prefix="plateau-assets-") as folder:
        source.save_assets(folder)
        target.load_assets(folder)


# -- outputs ---------------------------------------------------------------------------------


def _validation_inputs(
    handle: KerasHandle, data: DataBundle, context: StrategyContext
) -> Iterator[Any]:
    prepared = handle.prepare(data, context.batch_size, context.seed)
    seen = 0
    for x, _ in prepared.val:
        yield x
        seen += len(keras.tree.flatten(x)[0])  # x: a dict for named inputs
        if seen >= plan.MAX_SAMPLES:
            return


def _predict(model: Any, x: Any) -> np.ndarray:
    """Every output (a list or a dict of them: several outputs) side by side, per sample."""
    parts = keras.tree.flatten(model(x, training=False))
    rows = len(keras.tree.flatten(x)[0])
    return np.concatenate(
        [np.asarray(keras.ops.convert_to_numpy(p)).reshape(rows, -1) for p in parts], 1
    )
