"""`--data module:function` or `path/file.py:function`: the user's own code returns the data.

The function takes no arguments and returns `(train, val)`. Each is either an `(x, y)` pair of
arrays (numpy, or anything with `__array__` such as a CPU tensor; for a Keras model with several
named inputs or outputs, dicts of them by name), converted like an npz, or the
framework's own object (a `tf.data.Dataset`, a torch `DataLoader` or `Dataset`, a Keras
`PyDataset`), passed to the adapter untouched so the user's pipeline (augmentation, streaming,
workers) keeps working. Frameworks are recognised by the module their classes come from, never by
importing one here: by the time such an object exists, its framework is already loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from plateau_cli.data import named as by_name
from plateau_cli.data.base import Arrays, ArraySplit, DataBundle, DataSpec
from plateau_cli.entry_points import call
from plateau_cli.errors import BadInputError

_FRAMEWORK_MODULES = {"tensorflow": "tensorflow", "keras": "tensorflow", "torch": "torch"}


def framework_of(obj: Any) -> str | None:
    """ "tensorflow" or "torch" when `obj` is a dataset-like object of that framework.

    A class counts when it or a base comes from the framework (a user's `Dataset` subclass
    lives in the user's module). Tensors are arrays, not datasets: they have `__array__`.
    """
    if hasattr(obj, "__array__") or not (hasattr(obj, "__iter__") or hasattr(obj, "__getitem__")):
        return None
    for klass in type(obj).__mro__:
        top = (klass.__module__ or "").split(".")[0]
        if top in _FRAMEWORK_MODULES:
            return _FRAMEWORK_MODULES[top]
    return None


def _describe(obj: Any) -> str:
    kind = type(obj)
    name = (
        f"{kind.__module__}.{kind.__qualname__}"
        if kind.__module__ != "builtins"
        else (kind.__qualname__)
    )
    if isinstance(obj, tuple | list):
        return f"a {name} of {len(obj)}: ({', '.join(_describe(o) for o in obj[:4])})"
    return name


def _as_pair(obj: Any, spec: str, which: str) -> ArraySplit | Any:
    """An `(x, y)` pair of arrays -> ArraySplit (raw, converted later); a framework object as is."""
    if framework_of(obj) is not None:
        return obj
    if isinstance(obj, tuple | list) and len(obj) == 2 and all(_arrays_or_named(p) for p in obj):
        try:
            return ArraySplit(_as_arrays(obj[0]), _as_arrays(obj[1]))
        except (TypeError, ValueError, RuntimeError) as exc:  # a GPU tensor, a ragged array
            raise BadInputError(
                f"--data {spec!r}: the {which} arrays cannot be read as numpy arrays ({exc});"
                " return CPU arrays, e.g. tensor.cpu().numpy()"
            ) from exc
    raise BadInputError(
        f"--data {spec!r}: the {which} part is {_describe(obj)}; expected an (x, y) pair of"
        " numpy arrays (or of dicts of them by input/output name), a tf.data.Dataset, or a"
        " torch DataLoader/Dataset"
    )


def _is_array(part: Any) -> bool:
    return hasattr(part, "__array__") and getattr(part, "ndim", 0) >= 1


def _arrays_or_named(part: Any) -> bool:
    """An array, or a non-empty dict of arrays by name (a multi-input/output Keras model)."""
    if isinstance(part, Mapping):
        return bool(part) and all(isinstance(k, str) and _is_array(v) for k, v in part.items())
    return _is_array(part)


def _as_arrays(part: Any) -> Arrays:
    if isinstance(part, Mapping):
        return {key: np.asarray(value) for key, value in part.items()}
    return np.asarray(part)


def load_entry_point(spec: DataSpec) -> DataBundle:
    """Call the user's function and check what it returned."""
    result = call(spec.source, "--data")
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise BadInputError(
            f"--data {spec.source!r}: returned {_describe(result)}; expected a (train, val) pair"
        )
    train, val = (
        _as_pair(part, spec.source, which)
        for part, which in zip(result, ("training", "validation"), strict=True)
    )
    if isinstance(train, ArraySplit) and isinstance(val, ArraySplit):
        return _arrays_bundle(spec.source, train, val)
    frameworks = {framework_of(train), framework_of(val)}
    if len(frameworks) != 1:
        raise BadInputError(
            f"--data {spec.source!r}: train is {_describe(train)} but val is {_describe(val)};"
            " return both as arrays or both as the same framework's objects"
        )
    return DataBundle(
        train=train,
        val=val,
        format="entry-point",
        source=spec.source,
        notes=(f"data from {spec.source}: {_describe(train)} objects, passed through as is",),
        framework=frameworks.pop(),
    )


def _arrays_bundle(source: str, train: ArraySplit, val: ArraySplit) -> DataBundle:
    by_name.check_same_names(train.x, val.x, source, "features")
    by_name.check_rows(train.x, train.y, source, "training")
    by_name.check_rows(val.x, val.y, source, "validation")
    y_train, y_val, class_names, notes = by_name.labels(
        train.y, val.y, source, (_namer("training", "y"), _namer("validation", "y"))
    )
    assert y_val is not None
    return DataBundle(
        train=ArraySplit(by_name.features(train.x, source, _namer("training", "x")), y_train),
        val=ArraySplit(by_name.features(val.x, source, _namer("validation", "x")), y_val),
        format="entry-point",
        source=source,
        class_names=class_names,
        notes=notes,
        source_dtype=by_name.stored_dtype(train.x),
    )


def _namer(split: str, role: str) -> by_name.Namer:
    """ "the training x array", or "the training x array 'pixels'" for a named one."""

    def name(key: str | None) -> str:
        return f"the {split} {role} array" + (f" {key!r}" if key is not None else "")

    return name
