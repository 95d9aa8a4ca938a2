"""The optimizer through a torch widening: same class and param-group hyper-parameters, and
its state carried per parameter.

`Optimizer.load_state_dict` does not check shapes (the first `step()` then fails), so the new
state tensors are built here. Untouched parameters keep their state as it was. Net2Net's
copies carry their sources' state scaled as derived in `arithmetic.remap_slot`, and `step`
continues. For zero-out and random under an Adam-family optimizer, the widened layers' state
restarts at step 0: torch keeps a step count per parameter, so Adam's bias correction then
applies to their first steps; a zero moment at a step count in the thousands would get none,
and its first updates would reach several times the learning rate (measured: the escape in
the package docstring). Other optimizers (SGD's momentum, RMSprop) have no such correction:
existing units keep their state and new units start where a new optimizer would.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import numpy as np

from plateau_cli.adapters.base import OptimizerState
from plateau_cli.strategies.widen import plan
from plateau_cli.strategies.widen.arithmetic import (
    Init,
    Role,
    Slot,
    UnitAxis,
    UnitMap,
    remap_slot,
)
from plateau_cli.strategies.widen.graph import Chain
from plateau_cli.strategies.widen.options import WidenOptions
from plateau_cli.strategies.widen.outcome import OptimizerRemap

if TYPE_CHECKING:
    import torch
    from torch import nn

    from plateau_cli.adapters.torch.handle import TorchHandle

SLOTS = {
    "exp_avg": Slot(1),
    "exp_avg_sq": Slot(2),
    "max_exp_avg_sq": Slot(2),
    "momentum_buffer": Slot(1),
    "square_avg": Slot(2),
    "grad_avg": Slot(1),
    "acc_delta": Slot(0),
    "sum": Slot(2),
    "exp_inf": Slot(1),
}
#: RMSprop's momentum buffer accumulates g / sqrt(v): scale-free.
SLOT_OVERRIDES = {("RMSprop", "momentum_buffer"): Slot(0)}
#: Optimizers whose moments are bias-corrected by the parameter's `step`: a zero moment at a
#: high step gets no correction, so new units' state restarts at step 0 instead.
BIAS_CORRECTED = frozenset({"Adam", "AdamW", "NAdam", "RAdam", "Adamax"})


def to_numpy(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.detach().cpu().numpy().copy()


def remap_optimizer(
    handle: TorchHandle,
    old: dict[str, nn.Module],
    new: dict[str, nn.Module],
    chain: Chain,
    units: UnitMap,
    options: WidenOptions,
) -> OptimizerRemap:
    optimizer = handle.optimizer
    roles = _roles(old, new, chain)
    groups = [
        {**{k: v for k, v in g.items() if k != "params"},
         "params": [roles[id(p)][0] if id(p) in roles else p for p in g["params"]]}
        for g in optimizer.param_groups
    ]  # fmt: skip
    cls = type(optimizer)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "params"}
    rebuilt = cls(groups, **{k: v for k, v in optimizer.defaults.items() if k in accepted})
    reset: list[str] = []
    names = {id(p): n for n, p in handle.model.named_parameters()}
    restart = options.init is not Init.NET2NET and any(
        c.__name__ in BIAS_CORRECTED for c in cls.__mro__
    )
    for group in optimizer.param_groups:
        for param in group["params"]:
            state = optimizer.state.get(param)
            if not state:
                continue
            if id(param) not in roles:
                rebuilt.state[param] = dict(state)
                continue
            if restart:  # no state: torch starts it afresh, at step 0, at the next step()
                continue
            target, role, where = roles[id(param)]
            remapped = _remap_state(cls.__name__, state, target, role, where, units, options, group)
            if remapped is None:
                reset.append(names.get(id(target), "?"))
            else:
                rebuilt.state[target] = remapped
    name = cls.__name__
    if handle.optimizer_state is not OptimizerState.RESTORED:
        handle.set_optimizer(rebuilt, handle.optimizer_state, handle.optimizer_detail)
        detail = (
            f"no optimizer state to carry (it was {handle.optimizer_state.value}): a new {name}"
        )
        return OptimizerRemap(handle.optimizer_state, detail + " over the widened parameters")
    steps = _steps(optimizer)
    detail = plan.remap_detail(name, options.init, chain, reset, steps, "the step count", restart)
    state = OptimizerState.PARTIAL if reset or restart else OptimizerState.REMAPPED
    handle.set_optimizer(rebuilt, state, detail)
    return OptimizerRemap(state, detail, tuple(reset), steps)


def _remap_state(
    optimizer: str,
    state: dict[str, Any],
    target: torch.Tensor,
    role: Role,
    where: UnitAxis,
    units: UnitMap,
    options: WidenOptions,
    group: dict[str, Any],
) -> dict[str, Any] | None:
    """One parameter's state, its per-element slots remapped; None: reset the parameter."""
    import torch

    out: dict[str, Any] = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor) or value.dim() == 0:
            out[key] = value.clone() if isinstance(value, torch.Tensor) else value
            continue
        slot = SLOT_OVERRIDES.get((optimizer, key), SLOTS.get(key, Slot(None)))
        start = float(group.get("initial_accumulator_value", 0.0)) if key == "sum" else 0.0
        fresh = np.full(tuple(target.shape), start, dtype=to_numpy(value).dtype)
        array = remap_slot(to_numpy(value), role, where, units, options.init, slot, fresh)
        if array is None:
            return None
        out[key] = torch.from_numpy(array).to(device=value.device, dtype=value.dtype)
    return out


def _roles(
    old: dict[str, nn.Module], new: dict[str, nn.Module], chain: Chain
) -> dict[int, tuple[torch.Tensor, Role, UnitAxis]]:
    """id(old parameter) -> (its replacement, its role, where its units lie)."""
    pairs: list[tuple[str, str, Role, UnitAxis]] = [
        (chain.layer.name, "weight", Role.INCOMING, UnitAxis(0)),
        (chain.layer.name, "bias", Role.INCOMING, UnitAxis(0)),
        (chain.consumer.name, "weight", Role.OUTGOING, UnitAxis(1, chain.block, inner=False)),
        (chain.consumer.name, "bias", Role.CONSUMER_BIAS, UnitAxis(0)),
    ]
    for norm in chain.batch_norms:
        pairs += [(norm.name, attr, Role.INCOMING, UnitAxis(0)) for attr in ("weight", "bias")]
    roles = {}
    for module, attr, role, where in pairs:
        before, after = getattr(old[module], attr), getattr(new[module], attr)
        if before is not None:
            roles[id(before)] = (after, role, where)
    return roles


def _steps(optimizer: torch.optim.Optimizer) -> int | None:
    steps = [float(s["step"]) for s in optimizer.state.values() if "step" in s]
    return int(max(steps)) if steps else None
