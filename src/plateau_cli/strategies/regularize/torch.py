"""regularize for PyTorch: every param group's weight_decay, every Dropout module's p."""

from __future__ import annotations

from typing import Any

import torch

from plateau_cli.adapters.torch.handle import TorchHandle
from plateau_cli.strategies.regularize.options import DECOUPLED_DECAY, L2_DECAY, RegularizeOptions

_DROPOUT = (torch.nn.Dropout, torch.nn.Dropout1d, torch.nn.Dropout2d, torch.nn.Dropout3d)


def apply(handle: TorchHandle, options: RegularizeOptions) -> tuple[list[str], dict[str, Any]]:
    optimizer = handle.optimizer
    decoupled = isinstance(optimizer, torch.optim.AdamW)
    decay = options.weight_decay
    if decay is None:
        decay = DECOUPLED_DECAY if decoupled else L2_DECAY
    old = sorted({float(g.get("weight_decay", 0.0)) for g in optimizer.param_groups})
    for group in optimizer.param_groups:
        group["weight_decay"] = max(float(group.get("weight_decay", 0.0)), decay)
    kind = "decoupled weight decay" if decoupled else "L2 weight decay"
    changes = [
        f"{kind} {', '.join(f'{v:g}' for v in old)} -> {decay:g} ({type(optimizer).__name__})"
    ]
    raised = []
    for name, module in handle.model.named_modules():
        if isinstance(module, _DROPOUT) and module.p < options.dropout:
            raised.append(f"{name} {module.p:g} -> {options.dropout:g}")
            module.p = options.dropout
    changes.append(
        f"dropout raised: {', '.join(raised)}"
        if raised
        else "no Dropout below the target rate: dropout unchanged (no layer is added)"
    )
    return changes, {"weight_decay": decay, "decoupled": decoupled, "dropout": options.dropout}


def copy_optimizer_state(handle: TorchHandle, other: TorchHandle) -> str:
    """The rolled-back checkpoint's optimizer state into the running optimizer, where it fits."""
    from plateau_cli.adapters.base import OptimizerState

    if other.optimizer_state is not OptimizerState.RESTORED:
        return "weights; it holds no optimizer state, so the given checkpoint's continues"
    try:
        handle.optimizer.load_state_dict(other.optimizer.state_dict())
    except (ValueError, KeyError, RuntimeError):
        return "weights; its optimizer state does not fit, so the given checkpoint's continues"
    return "weights and optimizer state"
