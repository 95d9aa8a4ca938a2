"""Dead ReLU units of a torch model, counted on the training data (FINDINGS §2).

Forward hooks on every `nn.ReLU`/`nn.ReLU6` module record each unit's largest activation over
the training set in eval mode; a unit (a channel for convolutions) whose largest activation is
0 is dead. A ReLU applied functionally inside `forward` has no module to hook and is not seen.
"""

from __future__ import annotations

from typing import Any

import torch

from plateau_cli.adapters.base import UnitActivity
from plateau_cli.adapters.torch.outputs import ModelCall, batch_size_of

_DEAD_CAN_HAPPEN = (torch.nn.ReLU, torch.nn.ReLU6)


def unit_activity(
    model: torch.nn.Module, batches: Any, call: ModelCall | None = None
) -> list[UnitActivity]:
    """`call` says how a batch's inputs reach the model (positional, keyword arguments)."""
    call = call or ModelCall()
    modules = [(name, m) for name, m in model.named_modules() if isinstance(m, _DEAD_CAN_HAPPEN)]
    if not modules:
        return []
    peaks: dict[str, torch.Tensor] = {}

    def hook_for(name: str) -> Any:
        def hook(module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> None:
            if not isinstance(output, torch.Tensor) or output.dim() < 2:
                return
            per_unit = output.detach().transpose(0, 1).reshape(output.shape[1], -1).amax(dim=1)
            peaks[name] = per_unit if name not in peaks else torch.maximum(peaks[name], per_unit)

        return hook

    handles = [m.register_forward_hook(hook_for(name)) for name, m in modules]
    modes = {m: m.training for m in model.modules()}
    model.eval()
    samples = 0
    try:
        with torch.no_grad():
            for xb, yb in batches:
                call(model, xb)
                samples += batch_size_of(yb)
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training
    return [
        UnitActivity(
            name,
            type(m).__name__.lower(),
            int(peaks[name].numel()),
            int((peaks[name] <= 0).sum()),
            samples,
        )
        for name, m in modules
        if name in peaks
    ]
