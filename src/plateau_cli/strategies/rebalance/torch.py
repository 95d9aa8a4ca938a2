"""rebalance for PyTorch: class-weighted resampling of every training batch (a torch
transform), and the predicted classes on the validation batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from plateau_cli.adapters.torch.handle import TorchHandle


def sampler(weights: np.ndarray, seed: int) -> Callable[[Any, Any], tuple[Any, Any]]:
    table = torch.as_tensor(weights, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)

    def transform(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        labels = _labels(y)
        chance = table.to(labels.device)[labels]
        if float(chance.sum()) <= 0:
            return x, y
        index = torch.multinomial(chance.cpu(), len(labels), True, generator=generator)
        index = index.to(x.device)
        return x[index], y[index]

    return transform


def _labels(y: torch.Tensor) -> torch.Tensor:
    if y.is_floating_point():
        if y.dim() == 2 and y.shape[1] > 1:
            return y.argmax(1)
        return (y.reshape(-1) > 0.5).long()
    return y.reshape(-1).long()


def predicted(handle: TorchHandle, batches: Any) -> tuple[np.ndarray, np.ndarray]:
    """(true classes, predicted classes) over `batches`, in eval mode."""
    model = handle.model
    modes = {m: m.training for m in model.modules()}
    model.eval()
    truth, outputs = [], []
    try:
        with torch.no_grad():
            for xb, yb in batches:
                outputs.append(model(xb).detach().cpu().double().numpy())
                truth.append(_labels(yb).cpu().numpy())
    finally:
        for m, training in modes.items():
            m.training = training
    logits = handle.loss is not None and handle.loss.accuracy == "logit"
    from plateau_cli.strategies.rebalance.balance import labels_from_outputs

    out = np.concatenate(outputs)
    return np.concatenate(truth), labels_from_outputs(out, logits)
