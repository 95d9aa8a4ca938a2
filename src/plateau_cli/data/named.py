"""Arrays keyed by name, for Keras models with several named inputs or outputs.

A functional Keras model built as `keras.Model({"pixels": a, "meta": b}, {"digit": c, "big": d})`
trains on `fit({"pixels": ..., "meta": ...}, {"digit": ..., "big": ...})`. The readers keep that
structure: an `.npz` stores one array per name as `<role>.<name>` (`x_train.pixels`,
`y_val.digit`), an entry point returns the dicts themselves. Every conversion the single-array
path makes (features to float32, labels to int64/float32, text labels to class indices) is made
here array by array, and every message names the array it is about.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from plateau_cli.data.arrays import as_features, check_lengths, labels_pair
from plateau_cli.data.base import Arrays
from plateau_cli.errors import DataMismatchError

#: `<role>.<name>`: the separator between an npz role (`x_train`) and an input/output name.
SEPARATOR = "."

Namer = Callable[[str | None], str]


def split_key(key: str, roles: Mapping[str, tuple[str, ...]]) -> tuple[str, str] | None:
    """`x_train.pixels` -> ("x_train", "pixels") when the part before the first dot spells a
    role; None for any other key (`weights.v2` is just an array with a dot in its name)."""
    prefix, dot, name = key.partition(SEPARATOR)
    if not dot or not name:
        return None
    lowered = prefix.lower()
    for role, aliases in roles.items():
        if lowered in aliases:
            return role, name
    return None


def features(x: Arrays, source: str, name: Namer) -> Arrays:
    """float32 features, array by array for a dict."""
    if isinstance(x, Mapping):
        return {key: as_features(np.asarray(v), source, name(key)) for key, v in x.items()}
    return as_features(x, source, name(None))


def check_rows(x: Arrays, y: Arrays, source: str, split: str) -> None:
    """Every feature and label array of a split has the same number of rows."""
    if not isinstance(x, Mapping) and not isinstance(y, Mapping):
        check_lengths(x, y, source, split)
        return
    arrays = {**_flat("x", x), **_flat("y", y)}
    lengths = {
        key: int(np.shape(array)[0]) if np.ndim(array) else 0 for key, array in arrays.items()
    }
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{key} {n}" for key, n in lengths.items())
        raise DataMismatchError(
            f"{source}: the {split} split's arrays have different numbers of rows ({listed});"
            " every input and output array needs one row per sample"
        )


def _flat(role: str, arrays: Arrays) -> dict[str, np.ndarray]:
    if isinstance(arrays, Mapping):
        return {f"{role}[{key!r}]": np.asarray(v) for key, v in arrays.items()}
    return {role: np.asarray(arrays)}


def labels(
    y_train: Arrays, y_val: Arrays | None, source: str, names: tuple[Namer, Namer]
) -> tuple[Arrays, Arrays | None, tuple[str, ...] | None, tuple[str, ...]]:
    """Labels converted like `labels_pair`, output by output for dicts.

    Returns (train, val, class names, notes). Text labels of several outputs each get their own
    class list; the bundle's one `class_names` cannot hold several, so a note gives them.
    """
    if not isinstance(y_train, Mapping):
        if isinstance(y_val, Mapping):
            raise DataMismatchError(
                f"{source}: the training labels are one array but the validation labels are"
                f" named ({', '.join(map(repr, y_val))}); give both the same way"
            )
        train, val, classes = labels_pair(y_train, y_val, source, (names[0](None), names[1](None)))
        return train, val, classes, ()
    if y_val is not None:
        check_same_names(y_train, y_val, source, "labels")
    train: dict[str, np.ndarray] = {}
    val: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for key, values in y_train.items():
        other = None if y_val is None else np.asarray(y_val[key])  # type: ignore[index]
        train[key], converted, classes = labels_pair(
            np.asarray(values), other, source, (names[0](key), names[1](key))
        )
        if converted is not None:
            val[key] = converted
        if classes:
            notes.append(f"output {key!r}: text labels as class indices, {', '.join(classes)}")
    return train, (val if y_val is not None else None), None, tuple(notes)


def check_same_names(train: Arrays, val: Arrays, source: str, what: str) -> None:
    """The training and validation splits name the same inputs (or outputs)."""
    if isinstance(train, Mapping) != isinstance(val, Mapping):
        raise DataMismatchError(
            f"{source}: the training {what} and the validation {what} are not given the same"
            " way (one array vs named arrays); give both the same way"
        )
    if isinstance(train, Mapping) and isinstance(val, Mapping) and set(train) != set(val):
        raise DataMismatchError(
            f"{source}: the training {what} are named {', '.join(map(repr, train))} but the"
            f" validation {what} {', '.join(map(repr, val))}; they must name the same arrays"
        )


def stored_dtype(x: Arrays) -> str:
    """The features' stored dtype for the health check (the first input's, for dicts)."""
    if isinstance(x, Mapping):
        dtypes = {str(np.asarray(v).dtype) for v in x.values()}
        return dtypes.pop() if len(dtypes) == 1 else "mixed"
    return str(x.dtype)


def sample_shapes(x: Arrays) -> list[int] | dict[str, list[int]]:
    """Per-sample shape(s), for the report's data block."""
    if isinstance(x, Mapping):
        return {key: list(np.shape(v)[1:]) for key, v in x.items()}
    return list(x.shape[1:])


def name_mismatch(
    expected: Mapping[str, object] | list[str], given: Mapping[str, object], thing: str, kind: str
) -> str | None:
    """How the given names differ from the model's, in words ("no <thing> for <kind> 'a'; the
    model has no <kind> 'b'"), or None when they agree: one wording for named arrays
    (fit_named) and for a dataset's named tensors (the Keras pipeline)."""
    missing = [n for n in expected if n not in given]
    extra = [n for n in given if n not in expected]
    parts = [f"no {thing} for {kind} {', '.join(map(repr, missing))}"] if missing else []
    parts += [f"the model has no {kind} {', '.join(map(repr, extra))}"] if extra else []
    return "; ".join(parts) or None
