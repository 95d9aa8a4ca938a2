"""Folding a standardisation into the first layer, framework-free (torch layout: kernel
(out, in, *spatial), the input's statistics per input feature or channel).

With z = (x - mean) / std in front, the first layer must compute W' z + b' = W x + b, so
W' = W * std (per input) and b' = b + W mean. For a Dense/Linear the statistics are per input
feature; for a convolution per input channel, which is exact only without zero padding (the
padded zeros would be standardised too): the caller measures the output change and refuses.
"""

from __future__ import annotations

import numpy as np

#: Features whose spread is below this are left unscaled (std 1): constant pixels, padding.
MIN_STD = 1e-6


def statistics(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over `axes` (the batch axis at least), std floored to 1 where ~constant."""
    mean = x.mean(axis=axes, dtype=np.float64)
    std = x.std(axis=axes, dtype=np.float64)
    return mean, np.where(std < MIN_STD, 1.0, std)


def fold(
    kernel: np.ndarray, bias: np.ndarray | None, mean: np.ndarray, std: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(W', b') for standardised inputs; `mean`/`std` have one value per kernel input."""
    shape = (1, -1) + (1,) * (kernel.ndim - 2)
    scaled = kernel * std.reshape(shape)
    shift = (kernel * mean.reshape(shape)).reshape(kernel.shape[0], -1).sum(axis=1)
    base = np.zeros(kernel.shape[0]) if bias is None else bias
    return scaled.astype(kernel.dtype), (base + shift).astype(kernel.dtype)


def unfold(
    kernel: np.ndarray, bias: np.ndarray, mean: np.ndarray, std: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of `fold`: the raw-input weights for W', b'."""
    shape = (1, -1) + (1,) * (kernel.ndim - 2)
    raw = kernel / std.reshape(shape)
    shift = (raw * mean.reshape(shape)).reshape(kernel.shape[0], -1).sum(axis=1)
    return raw.astype(kernel.dtype), (bias - shift).astype(kernel.dtype)
