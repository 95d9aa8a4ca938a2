"""`check_fit` for a model with several named inputs or outputs: every array by its name.

Keras matches dict data to a model's inputs and outputs by name. A missing name fails deep in
`fit` with a structure error, an extra one is dropped with only a log warning, and a label
array of the wrong width fails (or silently broadcasts) one output among several, so each
input's shape and each output's labels are checked here, and the message names the array.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from plateau_cli.data.arrays import describe_dtype, shape_text
from plateau_cli.data.base import ArraySplit, DataBundle
from plateau_cli.data.fit import check_labels, shapes_match
from plateau_cli.data.named import check_rows, name_mismatch
from plateau_cli.errors import DataMismatchError

if TYPE_CHECKING:
    from plateau_cli.adapters.base import IOSpec


def check_named_split(
    data: DataBundle, io: IOSpec, name: str, split: ArraySplit, where: str
) -> None:
    """Raise DataMismatchError naming the input or output whose array does not fit."""
    source = data.source
    if len(split) == 0:
        raise DataMismatchError(f"{source}: the {name} split is empty; it needs samples")
    check_rows(split.x, split.y, source, name)
    _check_inputs(split.x, io, f"{source}: the {name} features{where}")
    _check_outputs(split.y, io, f"{source}: the {name} labels{where}")


def _names(names: Mapping[str, object] | list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _check_structure(
    given: object, expected: Mapping[str, object] | None, what: str, kind: str, role: str
) -> None:
    """One array where the model has one; a dict with exactly the model's names otherwise."""
    if expected is None:
        if isinstance(given, Mapping):
            raise DataMismatchError(
                f"{what} are named arrays ({_names(list(given))}) but the model has one {kind};"
                f" give one array ({role} in an .npz)"
            )
        return
    if not isinstance(given, Mapping):
        keys = ", ".join(f"{role}.{n}" for n in expected)
        raise DataMismatchError(
            f"{what} are one array but the model has {len(expected)} {kind}s"
            f" ({_names(expected)}); give one array per {kind} by name (in an .npz: {keys})"
        )
    mismatch = name_mismatch(expected, given, "array", kind)
    if mismatch:
        raise DataMismatchError(f"{what}: {mismatch} (the model's {kind}s: {_names(expected)})")


def _check_inputs(x: object, io: IOSpec, what: str) -> None:
    _check_structure(x, io.inputs, what, "input", "x_train")
    if not isinstance(x, Mapping) or io.inputs is None:
        single = np.asarray(x)
        _check_numeric(single, what)
        expected = io.input_shape
        if expected is not None and not shapes_match(single.shape[1:], expected):
            raise DataMismatchError(
                f"{what} have shape {shape_text(single.shape[1:])} per sample but the model's"
                f" input is {shape_text(expected)}"
            )
        return
    for key, expected in io.inputs.items():
        array = np.asarray(x[key])
        _check_numeric(array, f"{what} of input {key!r}")
        if not shapes_match(array.shape[1:], expected):
            raise DataMismatchError(
                f"{what} of input {key!r} have shape {shape_text(array.shape[1:])} per sample"
                f" but the model's input {key!r} is {shape_text(expected)}"
            )


def _check_numeric(array: np.ndarray, what: str) -> None:
    if array.dtype.kind not in "biuf":
        raise DataMismatchError(
            f"{what} hold {describe_dtype(array.dtype)}; the model needs numbers"
        )


def _check_outputs(y: object, io: IOSpec, what: str) -> None:
    _check_structure(y, io.outputs, what, "output", "y_train")
    if not isinstance(y, Mapping) or io.outputs is None:
        single = np.asarray(y)
        _check_labels_numeric(single, what)
        check_labels(single, io, what)
        return
    for key, spec in io.outputs.items():
        array = np.asarray(y[key])
        _check_labels_numeric(array, f"{what} of output {key!r}")
        check_labels(array, spec, f"{what} of output {key!r}")


def _check_labels_numeric(array: np.ndarray, what: str) -> None:
    if array.dtype.kind not in "biuf":
        raise DataMismatchError(
            f"{what} hold {describe_dtype(array.dtype)}; the model needs numbers (class indices"
            " or targets)"
        )
