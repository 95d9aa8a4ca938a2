"""lr-find's range test for Keras: `train_on_batch` at growing rates, then the weights
(non-trainable ones too: BatchNorm statistics) and every optimizer variable put back."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from plateau_cli.adapters.keras.handle import KerasHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.strategies.base import StrategyContext
from plateau_cli.strategies.lr_find import curve


def range_test(
    handle: KerasHandle, data: DataBundle, context: StrategyContext, lrs: Sequence[float]
) -> list[float]:
    model = handle.model
    # A schedule becomes a constant rate first (said in the report), so one variable sets it.
    current = handle.learning_rate()
    if current is not None:
        handle.set_learning_rate(current)
    optimizer = model.optimizer
    weights = model.get_weights()
    saved = [np.array(v.numpy()) for v in optimizer.variables] if optimizer.built else None
    prepared = handle.prepare(data, context.batch_size, context.seed)
    losses: list[float] = []
    try:
        for lr, (xb, yb) in zip(lrs, _forever(prepared.train), strict=False):
            optimizer.learning_rate = float(lr)
            logs = model.train_on_batch(xb, yb, return_dict=True)
            value = float(logs["loss"])
            losses.append(value)
            if curve.should_stop(curve.smooth(losses), value):
                break
    finally:
        model.set_weights(weights)
        if saved is not None:
            for variable, value in zip(optimizer.variables, saved, strict=True):
                variable.assign(value)
        else:  # built by the test: nothing of it may stay
            for variable in optimizer.variables:
                variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
        if current is not None:
            optimizer.learning_rate = float(current)
    return [v if math.isfinite(v) else float("nan") for v in losses]


def _forever(batches: Any) -> Iterator[tuple[Any, Any]]:
    while True:
        empty = True
        for pair in batches:
            empty = False
            yield pair
        if empty:
            return
