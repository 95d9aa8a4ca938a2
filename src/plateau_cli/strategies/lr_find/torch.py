"""lr-find's range test for PyTorch: train on mini-batches at growing rates, then put the
weights (buffers too) and the optimizer state back exactly."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from plateau_cli.adapters.torch.handle import TorchHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.strategies.base import StrategyContext
from plateau_cli.strategies.lr_find import curve


def range_test(
    handle: TorchHandle, data: DataBundle, context: StrategyContext, lrs: Sequence[float]
) -> list[float]:
    model, optimizer = handle.model, handle.optimizer
    weights = copy.deepcopy(model.state_dict())
    state = copy.deepcopy(optimizer.state_dict())
    modes = {m: m.training for m in model.modules()}
    prepared = handle.prepare(data, context.batch_size, context.seed)
    assert handle.loss is not None  # prepare settles the loss
    loss_fn = handle.loss.build().to(handle.device)
    losses: list[float] = []
    smoothed: list[float] = []
    try:
        model.train()
        for lr, (xb, yb) in zip(lrs, _forever(prepared.train), strict=False):
            handle.set_learning_rate(lr)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            value = float(loss.detach())
            losses.append(value)
            smoothed = curve.smooth(losses)
            if curve.should_stop(smoothed, value):
                break
            loss.backward()
            optimizer.step()
    finally:
        model.load_state_dict(weights)
        optimizer.load_state_dict(state)
        optimizer.zero_grad(set_to_none=True)
        for module, training in modes.items():
            module.training = training
    return [v if math.isfinite(v) else float("nan") for v in losses]


def _forever(batches: Any) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    while True:
        empty = True
        for pair in batches:
            empty = False
            yield pair
        if empty:
            return
