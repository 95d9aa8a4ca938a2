"""Rescale the first layer's ReLU units to unit spread, the inverse into the next layer.

Folding the standardisation into the first layer keeps the function, but it also keeps the
hidden activations at the raw scale (hundreds to thousands for features at ~1e3), and divides
the first layer's effective learning rate by the features' variance: after the fold the first
layer barely moves at any rate that the huge activations downstream survive. Measured on the
zoo's unnormalised plateaus (torch MLPs, SGD at 1e-6, 3 epochs, seeds 0-1): the fold alone
reached val_loss 44.4 (breast_cancer) and 62.3 (wine) against 34.4 and 60.3 continuing; with
the units also rescaled and the rate at 1e-3, 0.9-1.1 and 2.9-3.2.

ReLU is positively homogeneous: relu(z / c) * c = relu(z) for c > 0, so dividing unit j's
incoming weights and bias by c_j and multiplying the next layer's weights from it by c_j keeps
the outputs exactly (max-pooling, dropout and flattening in between keep that too). c_j is the
spread of unit j's output over the training data (1 for a unit that never varies: dead).

Kernels in torch layout here: (out, in, *spatial); `next_in` is the next layer's input axis,
with `per_unit` inputs per unit (a flattened conv map: height x width, unit-major in torch,
unit-minor in Keras' channels-last Flatten).
"""

from __future__ import annotations

import numpy as np

#: Units whose output spread is below this keep scale 1 (dead or constant units).
MIN_SPREAD = 1e-6


def unit_scales(outputs: np.ndarray, channel_axis: int = 1) -> np.ndarray:
    """Per unit (channel) spread of the first layer's activated outputs over the data."""
    axes = tuple(a for a in range(outputs.ndim) if a != channel_axis % outputs.ndim)
    spread = outputs.std(axis=axes, dtype=np.float64)
    return np.where(spread < MIN_SPREAD, 1.0, spread)


def scale_first(
    kernel: np.ndarray, bias: np.ndarray, scales: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The first layer's units divided by their scales (torch layout: units on axis 0)."""
    shape = (-1,) + (1,) * (kernel.ndim - 1)
    return (kernel / scales.reshape(shape)).astype(kernel.dtype), (bias / scales).astype(bias.dtype)


def scale_next(kernel: np.ndarray, scales: np.ndarray, unit_major: bool = True) -> np.ndarray:
    """The next layer's weights from each unit times its scale (torch layout: inputs on axis 1).

    A flattened conv map gives the next Linear `units x per_unit` inputs: unit-major (torch,
    NCHW) or unit-minor (Keras' channels-last Flatten)."""
    inputs = kernel.shape[1]
    per_unit = inputs // scales.size
    if per_unit * scales.size != inputs:
        raise ValueError(f"{inputs} inputs do not split over {scales.size} units")
    factor = np.repeat(scales, per_unit) if unit_major else np.tile(scales, per_unit)
    shape = (1, -1) + (1,) * (kernel.ndim - 2)
    return (kernel * factor.reshape(shape)).astype(kernel.dtype)
