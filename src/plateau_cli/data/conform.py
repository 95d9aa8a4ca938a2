"""Lossless adjustments that let data written for one convention feed a model of another.

Each one is the kind of mismatch a person fixes with one line in a notebook and should not
need to rewrite a file for: a missing or extra channel axis of size one (`(28, 28)` images for an
`Input((28, 28, 1))`), one-hot labels for a sparse loss or class indices for a categorical one,
whole numbers stored as floats for a classifier, integer targets for a regression. Every
adjustment is recorded in the bundle's notes; anything that would lose information is left for
`check_fit` to refuse with a message.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from plateau_cli.data.arrays import shape_text
from plateau_cli.data.base import ArraySplit, DataBundle, Task
from plateau_cli.data.fit import Shape, expected_sample_shape, shapes_match
from plateau_cli.data.task import infer_task, is_integral, is_one_hot

if TYPE_CHECKING:
    from plateau_cli.adapters.base import IOSpec


def conform(data: DataBundle, io: IOSpec | None) -> DataBundle:
    """Return `data` adjusted to the model described by `io` (unchanged when nothing applies)."""
    if io is None or not data.is_arrays or data.is_multi or io.is_multi:
        return data  # named arrays are fed as given; check_fit says what does not fit
    notes: list[str] = []
    train, val = data.train, data.val
    expected = expected_sample_shape(io, data.image_layout)
    if expected is not None:
        sample = train.x.shape[1:]
        fitted = _singleton_axis_fix(sample, expected, io.channels_last)
        if fitted is not None and val.x.shape[1:] == sample:
            train = ArraySplit(train.x.reshape((len(train), *fitted)), train.y)
            val = ArraySplit(val.x.reshape((len(val), *fitted)), val.y)
            notes.append(
                f"features reshaped from {shape_text(sample)} to {shape_text(fitted)} per sample"
                " to match the model's input"
            )
    task = infer_task(train.y, io)
    y_train, y_val, note = _labels_for(task, train.y, val.y, io)
    if note:
        notes.append(note)
        train, val = ArraySplit(train.x, y_train), ArraySplit(val.x, y_val)
    if not notes:
        return data
    return replace(data, train=train, val=val, notes=(*data.notes, *notes))


def _singleton_axis_fix(sample: Shape, expected: Shape, channels_last: bool) -> Shape | None:
    """A shape differing from `sample` only by a size-1 axis and matching `expected`, or None."""
    if shapes_match(sample, expected):
        return None
    trailing: list[Shape] = [(*sample, 1)]
    leading: list[Shape] = [(1, *sample)]
    if sample and sample[-1] == 1:
        trailing.append(sample[:-1])
    if sample and sample[0] == 1:
        leading.append(sample[1:])
    candidates = trailing + leading if channels_last else leading + trailing
    for candidate in candidates:
        if shapes_match(candidate, expected):
            return candidate
    return None


def _labels_for(
    task: Task, y_train: np.ndarray, y_val: np.ndarray, io: IOSpec
) -> tuple[np.ndarray, np.ndarray, str | None]:
    units = io.output_units
    if task is Task.REGRESSION:
        if y_train.dtype.kind in "biu" or y_val.dtype.kind in "biu":
            return (
                y_train.astype(np.float32),
                y_val.astype(np.float32),
                ("integer targets converted to float32 for regression"),
            )
        return y_train, y_val, None
    if task is not Task.CLASSIFICATION:
        return y_train, y_val, None
    flat = [y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y for y in (y_train, y_val)]
    if io.sparse_labels and is_one_hot(y_train) and is_one_hot(y_val):
        return (
            y_train.argmax(axis=1).astype(np.int64),
            y_val.argmax(axis=1).astype(np.int64),
            "one-hot labels converted to class indices for the model's sparse loss",
        )
    if all(y.ndim == 1 and is_integral(y) for y in flat):
        ints = [y.astype(np.int64) for y in flat]
        in_range = units is not None and all(
            y.size and y.min() >= 0 and y.max() < units for y in ints
        )
        if not io.sparse_labels and in_range and units is not None:
            eye = np.eye(units, dtype=np.float32)
            return (
                eye[ints[0]],
                eye[ints[1]],
                (
                    f"class indices one-hot encoded to {units} columns for the model's"
                    " categorical loss"
                ),
            )
        if y_train.dtype.kind == "f" or y_val.dtype.kind == "f":
            return ints[0], ints[1], "whole-number float labels converted to int64 class indices"
    return y_train, y_val, None
