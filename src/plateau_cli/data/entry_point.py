"""`--data module:function` or `path/file.py:function`: the user's own code returns the data.

The function takes no arguments and returns `(train, val)`. Each is either an `(x, y)` pair of
arrays (numpy, or anything with `__array__` such as a CPU tensor), converted like an npz, or the
framework's own object (a `tf.data.Dataset`, a torch `DataLoader` or `Dataset`, a Keras
`PyDataset`), passed to the adapter untouched so the user's pipeline (augmentation, streaming,
workers) keeps working. Frameworks are recognised by the module their classes come from, never by
importing one here: by the time such an object exists, its framework is already loaded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from plateau_cli.data.arrays import as_features, check_lengths, labels_pair
from plateau_cli.data.base import ArraySplit, DataBundle, DataSpec
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
    if (
        isinstance(obj, tuple | list)
        and len(obj) == 2
        and all(hasattr(part, "__array__") and getattr(part, "ndim", 0) >= 1 for part in obj)
    ):
        try:
            return ArraySplit(np.asarray(obj[0]), np.asarray(obj[1]))
        except (TypeError, ValueError, RuntimeError) as exc:  # a GPU tensor, a ragged array
            raise BadInputError(
                f"--data {spec!r}: the {which} arrays cannot be read as numpy arrays ({exc});"
                " return CPU arrays, e.g. tensor.cpu().numpy()"
            ) from exc
    raise BadInputError(
        f"--data {spec!r}: the {which} part is {_describe(obj)}; expected an (x, y) pair of"
        " numpy arrays, a tf.data.Dataset, or a torch DataLoader/Dataset"
    )


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
    check_lengths(train.x, train.y, source, "training")
    check_lengths(val.x, val.y, source, "validation")
    y_train, y_val, class_names = labels_pair(
        train.y, val.y, source, ("the training y array", "the validation y array")
    )
    assert y_val is not None
    return DataBundle(
        train=ArraySplit(as_features(train.x, source, "the training x array"), y_train),
        val=ArraySplit(as_features(val.x, source, "the validation x array"), y_val),
        format="entry-point",
        source=source,
        class_names=class_names,
        source_dtype=str(train.x.dtype),
    )
