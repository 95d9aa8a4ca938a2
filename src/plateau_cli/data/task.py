"""What kind of prediction the model makes, from its output layer and the labels.

The adapter fills `IOSpec.task` when the loss says it (sparse/categorical cross-entropy,
BCE, MSE); that always wins. Otherwise the output layer decides: one sigmoid unit is binary,
several softmax units are a classifier, and several linear units fed 1-D integer labels can only
be a classifier too (logits trained with cross-entropy, the usual torch pattern), because a
multi-output regression needs one target column per unit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from plateau_cli.data.base import Task

if TYPE_CHECKING:
    from plateau_cli.adapters.base import IOSpec


def is_integral(y: np.ndarray) -> bool:
    """True for integer/bool arrays and for float arrays whose every value is a whole number."""
    if y.dtype.kind in "biu":
        return True
    if y.dtype.kind != "f" or y.size == 0:
        return False
    finite = np.isfinite(y)
    return bool(finite.all() and np.array_equal(y, np.round(y)))


def is_one_hot(y: np.ndarray) -> bool:
    """True for a 2-D array of 0/1 rows with exactly one 1 each."""
    if y.ndim != 2 or y.shape[1] < 2 or y.dtype.kind not in "biuf":
        return False
    return bool(np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all())


def class_labels(y: np.ndarray) -> np.ndarray | None:
    """1-D integer class indices for sparse or one-hot labels; None for anything else."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 1 and is_integral(y):
        return y.astype(np.int64, copy=False)
    if is_one_hot(y):
        return y.argmax(axis=1).astype(np.int64)
    return None


def infer_task(y: np.ndarray | None, io: IOSpec | None) -> Task:
    """The model's task; with no model (`io` None) the labels alone decide.

    `y` may be None when only the model is known (a framework dataset whose labels are not
    read); then an output layer without a telling activation means regression.
    """
    if io is not None and io.task is not None:
        return io.task
    units = io.output_units if io is not None else None
    activation = (io.output_activation or "").lower() if io is not None else ""
    if units == 1 and activation == "sigmoid":
        return Task.BINARY
    if units is not None and units > 1 and activation == "softmax":
        return Task.CLASSIFICATION
    if y is None:
        return Task.REGRESSION
    flat_labels = y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)
    if units is not None and units > 1 and flat_labels and is_integral(y):
        return Task.CLASSIFICATION
    if io is None and ((y.dtype.kind in "biu" and flat_labels) or is_one_hot(y)):
        return Task.CLASSIFICATION
    return Task.REGRESSION
