"""The optimizer through a Keras widening: same class and config, state remapped per variable.

A new optimizer is built over the wider model's variables; every state variable of the old
one is carried over: `iterations` as it is, the slots of untouched layers unchanged, the slots
of widened variables through `arithmetic.remap_slot` (which says how each kind scales). Slots
are matched by the names Keras gives them (`<variable path>_<slot>`), so the old and the new
model may name their variables differently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from plateau_cli.adapters.base import OptimizerState
from plateau_cli.adapters.keras import optimizer as kopt
from plateau_cli.strategies.widen import plan
from plateau_cli.strategies.widen.arithmetic import Role, Slot, UnitAxis, UnitMap, remap_slot
from plateau_cli.strategies.widen.graph import Chain
from plateau_cli.strategies.widen.keras_graph import consumer_axis, layer_axis
from plateau_cli.strategies.widen.options import WidenOptions
from plateau_cli.strategies.widen.outcome import OptimizerRemap

if TYPE_CHECKING:
    from plateau_cli.adapters.keras.handle import KerasHandle

#: Optimizer slots by the name Keras gives them (`add_optimizer_variables`), by how they scale
#: with the gradient (`arithmetic.Slot`).
SLOTS = {
    "momentum": Slot(1),
    "velocity": Slot(2),
    "velocity_hat": Slot(2),
    "norm": Slot(1),  # Adamax: max |g|
    "accumulator": Slot(2),
    "average_gradient": Slot(1),
    "accumulated_grad": Slot(2),
    "accumulated_delta_var": Slot(0),
    "gradient_accumulator": Slot(1),
    "average": Slot(None, weight_like=True),  # use_ema
}
#: Where a class uses a slot name differently: RMSprop's momentum holds lr * g / sqrt(v).
SLOT_OVERRIDES = {("RMSprop", "momentum"): Slot(0), ("Ftrl", "accumulator"): Slot(None)}


def recompile(
    handle: KerasHandle, model: Any, wider: Any, chain: Chain, units: UnitMap, options: WidenOptions
) -> OptimizerRemap:
    old = model.optimizer
    fresh = type(old).from_config(old.get_config())
    fresh.build(wider.trainable_variables)
    restored = handle.optimizer_state is OptimizerState.RESTORED and old.built
    reset: list[str] = []
    if restored:
        reset = _carry_state(model, wider, old, fresh, chain, units, options)
    arguments = kopt.compile_arguments(model)
    arguments["optimizer"] = fresh
    wider.compile(**arguments)
    name = type(old).__name__
    if not restored:
        return OptimizerRemap(
            handle.optimizer_state,
            f"no optimizer state to carry (it was {handle.optimizer_state.value}): a new {name}"
            " over the widened parameters",
        )
    steps = int(fresh.iterations)
    detail = plan.remap_detail(name, options.init, chain, reset, steps, "the iteration count")
    state = OptimizerState.PARTIAL if reset else OptimizerState.REMAPPED
    return OptimizerRemap(state, detail, tuple(reset), steps)


def _carry_state(
    model: Any,
    wider: Any,
    old: Any,
    fresh: Any,
    chain: Chain,
    units: UnitMap,
    options: WidenOptions,
) -> list[str]:
    """Assign every state variable of `old` to `fresh`, remapping those of widened weights."""
    roles = _roles(chain)
    old_by_name = {v.name: v for v in old.variables}
    pairs = {}  # new variable's slot prefix -> (the old one's, its role and axis, the variable)
    for layer in wider.layers:
        # the same config builds the same variables in the same order (nested models too)
        source = model.get_layer(layer.name).weights
        for variable, match in zip(layer.weights, source, strict=True):
            role = roles.get((layer.name, variable.name))
            pairs[_slot_prefix(variable)] = (_slot_prefix(match), role, variable)
    reset: list[str] = []
    rate = fresh.learning_rate
    for target in fresh.variables:
        if target is rate:
            continue
        prefix = max((p for p in pairs if target.name.startswith(p)), key=len, default=None)
        if prefix is None:  # iterations and other optimizer-wide variables
            if target.name in old_by_name:
                target.assign(old_by_name[target.name])
            continue
        old_prefix, role, variable = pairs[prefix]
        slot_name = target.name[len(prefix) :]
        source = old_by_name.get(old_prefix + slot_name)
        if source is None:
            continue
        if role is None:
            target.assign(source)
            continue
        where = role[1]
        slot = SLOT_OVERRIDES.get((type(old).__name__, slot_name), SLOTS.get(slot_name, Slot(None)))
        start = np.asarray(variable) if slot.weight_like else np.asarray(target)
        value = remap_slot(np.asarray(source), role[0], where, units, options.init, slot, start)
        if value is None:
            reset.append(f"{variable.path} {slot_name}")
        else:
            target.assign(value)
    return reset


def _slot_prefix(variable: Any) -> str:
    return variable.path.replace("/", "_") + "_"


def _roles(chain: Chain) -> dict[tuple[str, str], tuple[Role, UnitAxis]]:
    layer, consumer = chain.layer.name, chain.consumer.name
    roles = {
        (layer, "kernel"): (Role.INCOMING, layer_axis(chain)),
        (layer, "bias"): (Role.INCOMING, UnitAxis(0)),
        (consumer, "kernel"): (Role.OUTGOING, consumer_axis(chain)),
        (consumer, "bias"): (Role.CONSUMER_BIAS, UnitAxis(0)),
    }
    for norm in chain.batch_norms:
        roles[(norm.name, "gamma")] = (Role.INCOMING, UnitAxis(0))
        roles[(norm.name, "beta")] = (Role.INCOMING, UnitAxis(0))
    return roles
