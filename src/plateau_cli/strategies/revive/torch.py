"""revive for PyTorch: per-unit peaks of each ReLU layer's pre-activation over the training
data (forward hooks), then the dead units' weights replaced in place."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plateau_cli.adapters.torch.handle import TorchHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.strategies.base import StrategyContext
from plateau_cli.strategies.revive.arithmetic import revive_arrays
from plateau_cli.strategies.revive.common import relu_chains
from plateau_cli.strategies.revive.options import ReviveOptions
from plateau_cli.strategies.widen.graph import Chain
from plateau_cli.strategies.widen.torch_graph import read_graph


def apply(
    handle: TorchHandle, data: DataBundle, context: StrategyContext, options: ReviveOptions
) -> tuple[list[Any], float, list[str]]:
    from plateau_cli.adapters.torch import batches
    from plateau_cli.strategies.revive import Revived

    model = handle.model
    prepared = handle.prepare(data, context.batch_size, context.seed)
    val = [x for x, _ in prepared.val]
    chains = relu_chains(read_graph(model, val[0][:2]), options.layer, set())
    peaks = _peaks(model, [c.layer.name for c in chains], batches.in_order(prepared.train))
    before = _outputs(model, val)
    rng = np.random.default_rng(context.seed)
    revived, reset = [], []
    for chain in chains:
        dead = np.flatnonzero(peaks[chain.layer.name] <= 0)
        if not len(dead):
            continue
        layer = model.get_submodule(chain.layer.name)
        consumer = model.get_submodule(chain.consumer.name)
        kernel, bias, out = revive_arrays(
            layer.weight.detach().cpu().numpy(),
            None if layer.bias is None else layer.bias.detach().cpu().numpy(),
            consumer.weight.detach().cpu().numpy(),
            dead,
            chain.block,
            False,
            rng,
            options.init_scale,
        )
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(kernel))
            if bias is not None:
                layer.bias.copy_(torch.from_numpy(bias))
            consumer.weight.copy_(torch.from_numpy(out))
        for module in (layer, consumer):
            for param in module.parameters():
                if handle.optimizer.state.pop(param, None) is not None:
                    reset.append(module_name(model, module))
        revived.append(
            Revived(
                chain.layer.name, int(peaks[chain.layer.name].size), len(dead), chain.consumer.name
            )
        )
    if not revived:
        raise StrategyNotApplicableError(
            "revive found no dead unit: every unit of "
            + ", ".join(c.layer.name for c in chains)
            + " is active on some training sample"
        )
    after = _outputs(model, val)
    change = max(float(np.max(np.abs(a - b))) for a, b in zip(after, before, strict=True))
    return revived, change, sorted(set(reset))


def module_name(model: torch.nn.Module, module: torch.nn.Module) -> str:
    return next((n for n, m in model.named_modules() if m is module), type(module).__name__)


def _peaks(model: torch.nn.Module, names: list[str], batches: Any) -> dict[str, np.ndarray]:
    """Each unit's (channel's) largest output over the data, in eval mode."""
    peaks: dict[str, torch.Tensor] = {}

    def hook_for(name: str) -> Any:
        def hook(module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> None:
            per_unit = output.detach().transpose(0, 1).reshape(output.shape[1], -1).amax(dim=1)
            peaks[name] = per_unit if name not in peaks else torch.maximum(peaks[name], per_unit)

        return hook

    hooks = [model.get_submodule(n).register_forward_hook(hook_for(n)) for n in names]
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            for xb, _ in batches:
                model(xb)
    finally:
        for h in hooks:
            h.remove()
        for m, training in modes.items():
            m.training = training
    return {n: p.cpu().numpy() for n, p in peaks.items()}


def _outputs(model: torch.nn.Module, inputs: list[torch.Tensor]) -> list[np.ndarray]:
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            return [model(x).detach().cpu().double().numpy() for x in inputs]
    finally:
        for m, training in modes.items():
            m.training = training


__all__ = ["Chain", "apply"]
