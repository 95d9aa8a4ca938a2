"""Bringing what a reader found to the array types the rest of plateau-cli relies on.

Features become float32 (what every model consumes; a uint8 image array is converted, and the
reader records the stored dtype so the health check can still say "raw 0..255 pixels"). Text
features stay text, for models that take strings; `check_fit` refuses them for the others.
Integer and boolean labels become int64 (what sparse cross-entropy and torch's `CrossEntropyLoss`
take), float targets float32, and string labels class indices in sorted order. Everything else
(Python objects, dates, complex numbers) is refused here with a message naming the array, so
no framework ever sees it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from plateau_cli.data import aligned
from plateau_cli.errors import DataMismatchError

#: Numeric dtype kinds: bool, signed, unsigned, float.
_NUMERIC = "biuf"
#: Text dtype kinds: bytes, unicode, numpy 2's variable-width StringDType.
_TEXT = "SUT"
_INT64_MAX = int(np.iinfo(np.int64).max)


def describe_dtype(dtype: np.dtype) -> str:
    """How a person would name the dtype: 'strings', 'Python objects', 'datetime64[D]'..."""
    if dtype.kind in _TEXT:
        return f"strings (dtype {dtype})"
    if dtype.kind == "O":
        return "Python objects (dtype object)"
    return f"dtype {dtype}"


def as_features(x: np.ndarray, source: str, name: str) -> np.ndarray:
    """float32 features, or text kept as text; anything else is a DataMismatchError.

    Text stays text because a model may take strings (a Keras `Input(dtype="string")` feeding
    TextVectorization); `check_fit` refuses it for a model that takes numbers.
    """
    if x.ndim == 0:
        raise DataMismatchError(f"{source}: {name} is a single value, not an array of samples")
    if x.dtype.kind in _TEXT:
        return as_text(x)
    if x.dtype.kind not in _NUMERIC:
        raise DataMismatchError(
            f"{source}: {name} holds {describe_dtype(x.dtype)}; the model needs numbers"
            " (encode text or categories as numbers first, or store text as a string array:"
            " x.astype(str))"
        )
    if x.dtype == np.float32:
        # As it is: the npz reader's arrays are aligned already, and copying a caller's array
        # only to align it would hold it twice where torch shares any array.
        return x
    return aligned.as_aligned(x, np.float32)  # converting copies anyway: aligned, shareable


def is_text(x: Any) -> bool:
    """An array of strings of any numpy kind (bytes, unicode, StringDType); False for anything
    without a dtype (a dict of inputs, a framework dataset)."""
    return getattr(getattr(x, "dtype", None), "kind", "") in _TEXT


def as_text(x: np.ndarray) -> np.ndarray:
    """Fixed-width numpy strings (`<U..` or bytes), what TensorFlow and the duplicate check take;
    numpy 2's variable-width StringDType becomes `<U..`."""
    if x.dtype.kind != "T":
        return x
    width = max((len(s) for s in x.flat), default=1)  # numpy casts it only to a sized dtype
    return x.astype(f"<U{max(width, 1)}")


def as_labels(y: np.ndarray, source: str, name: str) -> np.ndarray:
    """int64 for integer/bool labels, float32 for float targets; text is left to `encode_text`."""
    if y.ndim == 0:
        raise DataMismatchError(f"{source}: {name} is a single value, not an array of labels")
    if y.dtype.kind == "u" and y.dtype.itemsize == 8 and y.size and int(y.max()) > _INT64_MAX:
        # int64 is what every loss takes; a uint64 label past its range would wrap negative.
        raise DataMismatchError(
            f"{source}: {name} holds uint64 labels up to {int(y.max()):,}, past the int64 range"
            " labels are converted to (they would turn negative); store class indices"
            " 0..classes-1 (e.g. numpy.unique(y, return_inverse=True)[1])"
        )
    if y.dtype.kind in "biu":
        return y if y.dtype == np.int64 else aligned.as_aligned(y, np.int64)
    if y.dtype.kind == "f":
        return y if y.dtype == np.float32 else aligned.as_aligned(y, np.float32)
    raise DataMismatchError(
        f"{source}: {name} holds {describe_dtype(y.dtype)}; labels must be numbers or strings"
    )


def encode_text(
    *labels: np.ndarray,
) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """String labels of several splits -> int64 class indices over their sorted union.

    Sorting (rather than order of appearance) makes the class index of a name independent of the
    row order and of the split, so the same file always maps to the same output unit.
    """
    texts = [np.asarray(y).astype(str) for y in labels]
    names = np.unique(np.concatenate([t.ravel() for t in texts]))
    encoded = [np.searchsorted(names, t).astype(np.int64) for t in texts]
    return encoded, tuple(str(n) for n in names)


def labels_pair(
    y_train: np.ndarray, y_val: np.ndarray | None, source: str, names: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...] | None]:
    """Convert train (and val) labels together, so text labels share one class list."""
    is_text = y_train.dtype.kind in _TEXT or (y_val is not None and y_val.dtype.kind in _TEXT)
    if is_text:
        parts = [y_train] if y_val is None else [y_train, y_val]
        encoded, class_names = encode_text(*parts)
        return encoded[0], (encoded[1] if y_val is not None else None), class_names
    train = as_labels(y_train, source, names[0])
    val = as_labels(y_val, source, names[1]) if y_val is not None else None
    return train, val, None


def check_lengths(x: np.ndarray, y: np.ndarray, source: str, split: str) -> None:
    """Features and labels must pair up one to one."""
    if x.shape[0] != y.shape[0]:
        raise DataMismatchError(
            f"{source}: the {split} split has {x.shape[0]} feature rows but {y.shape[0]} labels;"
            " they must have the same length"
        )


def shape_text(shape: tuple[int | None, ...]) -> str:
    """`(28, 28, 1)`, `(784,)`, `(None, 3)`: Python's tuple spelling, used in every message."""
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
