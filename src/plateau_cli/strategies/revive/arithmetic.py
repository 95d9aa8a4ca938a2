"""revive's weight arithmetic on numpy arrays in one layout (units on axis 0 of the producer,
inputs on axis 1 of the consumer); each framework transposes its kernels into it and back.

A dead unit outputs 0 on every training sample, so its outgoing weights contribute nothing:
setting them to 0 and giving the unit new random (He) incoming weights keeps the model's
outputs on the training data exactly, while the outgoing weights get a gradient at once (the
zero-out init that FINDINGS §1 measured escaping where copies did not).
"""

from __future__ import annotations

import numpy as np


def consumer_inputs(units: np.ndarray, width: int, block: int, channels_last: bool) -> np.ndarray:
    """The consumer's input indices that carry `units` of a `width`-unit layer.

    After a Flatten each unit is a block of inputs: contiguous in torch (C, H, W), strided in
    Keras (H, W, C).
    """
    units = np.asarray(units, dtype=int)
    offsets = np.arange(block)
    if channels_last:
        return (units[:, None] + width * offsets[None, :]).reshape(-1)
    return (units[:, None] * block + offsets[None, :]).reshape(-1)


def revive_arrays(
    kernel: np.ndarray,
    bias: np.ndarray | None,
    consumer: np.ndarray,
    dead: np.ndarray,
    block: int,
    channels_last: bool,
    rng: np.random.Generator,
    scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """New (kernel, bias, consumer kernel): dead units' rows He-random, their bias 0, and the
    consumer's weights from them 0. Nothing else changes."""
    kernel, consumer = kernel.copy(), consumer.copy()
    fan_in = int(np.prod(kernel.shape[1:]))
    std = scale * np.sqrt(2.0 / max(fan_in, 1))
    kernel[dead] = rng.normal(0.0, std, size=(len(dead), *kernel.shape[1:])).astype(kernel.dtype)
    if bias is not None:
        bias = bias.copy()
        bias[dead] = 0
    columns = consumer_inputs(dead, kernel.shape[0], block, channels_last)
    consumer[:, columns] = 0
    return kernel, bias, consumer
