"""Can this data feed this model? Checked before any training, with the numbers in the message.

A mismatch found here costs the user one line and exit 2; found by the framework it costs a
stack trace from deep inside `fit`, often after minutes of loading, and sometimes no error at
all (a label beyond the output units silently gives NaN losses on some GPUs). For a framework's
own dataset object only its first batch is looked at: enough for shapes and dtypes, and for the
label range of that batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import prod
from typing import TYPE_CHECKING, Any

import numpy as np

from plateau_cli.data.arrays import check_lengths, describe_dtype, is_text, shape_text
from plateau_cli.data.base import ArraySplit, DataBundle, Task
from plateau_cli.data.task import infer_task, is_integral
from plateau_cli.errors import BadInputError, DataMismatchError

if TYPE_CHECKING:
    from plateau_cli.adapters.base import IOSpec

Shape = tuple[int | None, ...]


def expected_sample_shape(io: IOSpec, image_layout: str | None) -> Shape | None:
    """The model's per-sample input shape in the data's layout (NCHW read as NHWC for images)."""
    shape = io.input_shape
    if shape is None:
        return None
    if image_layout == "NHWC" and not io.channels_last and len(shape) == 3:
        channels, height, width = shape
        return (height, width, channels)
    return tuple(shape)


def shapes_match(actual: Shape, expected: Shape) -> bool:
    """Same rank, and every fixed dimension equal (None is a wildcard)."""
    return len(actual) == len(expected) and all(
        e is None or e == a for a, e in zip(actual, expected, strict=True)
    )


def check_fit(data: DataBundle, io: IOSpec) -> None:
    """Raise DataMismatchError when `data` cannot train or evaluate the model described by `io`."""
    if data.is_arrays:
        splits = [("training", data.train, ""), ("validation", data.val, "")]
    else:
        rank = input_rank(io)
        splits = []
        for name, obj in (("training", data.train), ("validation", data.val)):
            batch = first_batch(obj, rank, data.source, name)
            if batch is not None:
                splits.append((name, batch, " in the first batch"))
    for name, split, where in splits:
        _check_split(data, io, name, split, where)


def input_rank(io: IOSpec | None) -> int | Mapping[str, int] | None:
    """The per-sample rank of the model's input (one per name for several inputs), by which a
    dataset's first element is told to be a single sample or a batch."""
    if io is None:
        return None
    if io.inputs is not None:
        return {name: len(shape) for name, shape in io.inputs.items()}
    return len(io.input_shape) if io.input_shape is not None else None


def _check_split(data: DataBundle, io: IOSpec, name: str, split: ArraySplit, where: str) -> None:
    if split.is_multi or io.is_multi:
        from plateau_cli.data.fit_named import check_named_split

        check_named_split(data, io, name, split, where)
        return
    source = data.source
    if len(split) == 0:
        raise DataMismatchError(f"{source}: the {name} split is empty; it needs samples")
    check_lengths(split.x, split.y, source, name)
    what = f"{source}: the {name} features{where}"
    if data.feature_names and is_text(split.x):  # a CSV's text columns: name them
        names = data.feature_names
        what += f" (column{'s' if len(names) > 1 else ''} {', '.join(map(repr, names[:5]))})"
    _check_feature_kind(split.x, io, what)
    if split.y.dtype.kind not in "biuf":
        raise DataMismatchError(
            f"{source}: the {name} labels hold {describe_dtype(split.y.dtype)};"
            " the model needs numbers (class indices or targets)"
        )
    expected = expected_sample_shape(io, data.image_layout)
    if expected is not None and not shapes_fit(split.x, expected):
        raise DataMismatchError(
            f"{source}: features have shape {shape_text(split.x.shape[1:])} per sample but the"
            f" model's input is {shape_text(io.input_shape or ())}{shape_hint(split.x, expected)}"
        )
    labels = "labels" if name == "training" else "validation labels"
    check_labels(split.y, io, f"{source}: {labels}{where}")


def _check_feature_kind(x: np.ndarray, io: IOSpec, what: str) -> None:
    """Text for a string input, numbers for every other: the model's input dtype decides."""
    if is_text(x):
        if not io.string_inputs:
            raise DataMismatchError(
                f"{what} hold {describe_dtype(x.dtype)}; the model needs numbers (its input is"
                " not a string input: encode text or categories as numbers first)"
            )
    elif x.dtype.kind not in "biuf":
        raise DataMismatchError(
            f"{what} hold {describe_dtype(x.dtype)}; the model needs"
            f" {'strings' if io.string_inputs else 'numbers'}"
            + (" (store text as a string array: x.astype(str))" if x.dtype.kind == "O" else "")
        )
    elif io.string_inputs:
        raise DataMismatchError(
            f"{what} hold numbers (dtype {x.dtype}) but the model takes strings (its input has"
            " dtype string); give the text itself"
        )


def shapes_fit(x: np.ndarray, expected: Shape) -> bool:
    """`shapes_match` per sample; one string per sample also fits an input of shape (1,), as
    TextVectorization and StringLookup take either."""
    sample = x.shape[1:]
    return shapes_match(sample, expected) or (is_text(x) and sample == () and expected == (1,))


def shape_hint(x: np.ndarray, expected: Shape) -> str:
    """How to make `x` fit (a transpose, a reshape), or the empty string."""
    sample = x.shape[1:]
    if len(sample) == 3 and len(expected) == 3:
        if shapes_match((sample[2], sample[0], sample[1]), expected):
            return " (the data is channels-last, the model channels-first: x.transpose(0, 3, 1, 2))"
        if shapes_match((sample[1], sample[2], sample[0]), expected):
            return " (the data is channels-first, the model channels-last: x.transpose(0, 2, 3, 1))"
    fixed = [d for d in expected if d is not None]
    if len(fixed) == len(expected) and prod(sample) == prod(fixed):
        return f" (same number of values: reshape to {shape_text((len(x), *fixed))})"
    return ""


def check_labels(y: np.ndarray, io: IOSpec, what: str) -> None:
    task = infer_task(y, io)
    units = io.output_units
    flat = y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)
    if task is Task.CLASSIFICATION:
        if flat or (y.ndim > 2 and io.sparse_labels):
            _check_class_indices(y, units, what)
            if not io.sparse_labels and units is not None:
                raise DataMismatchError(
                    f"{what} are class indices but the model's loss expects one-hot rows of"
                    f" width {units} (categorical cross-entropy); one-hot encode them or use a"
                    " sparse loss"
                )
        elif units is not None and y.shape[-1] != units:
            raise DataMismatchError(
                f"{what} are one-hot with {y.shape[-1]} columns but the model has {units}"
                " output units; they must be equal"
            )
        elif io.sparse_labels:
            raise DataMismatchError(
                f"{what} are one-hot ({y.shape[-1]} columns) but the model's loss expects class"
                " indices (sparse cross-entropy); convert with y.argmax(axis=1)"
            )
    elif task is Task.BINARY:
        width = 1 if flat else (y.shape[-1] if y.ndim == 2 else None)
        if units is not None and width is not None and width != units:
            raise DataMismatchError(
                f"{what} have {width} column(s) per sample but the model has {units} sigmoid"
                " output unit(s); a binary classifier needs one unit and one 0/1 label each"
            )
        bad = np.unique(y[(y != 0) & (y != 1)])
        if bad.size:
            raise DataMismatchError(
                f"{what} must be 0 or 1 for a binary classifier; found"
                f" {', '.join(f'{v:g}' for v in bad[:5])}{' ...' if bad.size > 5 else ''}"
            )
    elif units is not None and y.ndim <= 2:
        width = 1 if flat else y.shape[1]
        if width != units:
            raise DataMismatchError(
                f"{what} have {width} value(s) per sample (shape {shape_text(y.shape[1:])}) but"
                f" the model has {units} output unit(s); regression needs one target per unit"
            )


def _check_class_indices(y: np.ndarray, units: int | None, what: str) -> None:
    if not is_integral(y):
        bad = y[~np.isfinite(y) | (y != np.round(y))] if y.dtype.kind == "f" else y
        raise DataMismatchError(
            f"{what} are not whole numbers (e.g. {bad.flat[0]:g}) but the model is a classifier;"
            " class labels must be integers" + (f" 0..{units - 1}" if units is not None else "")
        )
    if units is None or y.size == 0:
        return
    low, high = int(y.min()), int(y.max())
    if high >= units:
        raise DataMismatchError(
            f"{what} go up to {high} but the model has {units} output units"
            f" (labels must be 0..{units - 1})"
        )
    if low < 0:
        raise DataMismatchError(
            f"{what} go down to {low} but class labels start at 0"
            f" (the model has {units} output units: labels must be 0..{units - 1})"
        )


def to_numpy(value: Any) -> np.ndarray | None:
    """A framework tensor (torch on any device, TensorFlow eager) or array as numpy; else None."""
    try:
        if hasattr(value, "detach"):  # torch: leave the graph and the device first
            value = value.detach().cpu()
        if hasattr(value, "numpy") and callable(value.numpy):
            return _strings_as_text(np.asarray(value.numpy()))
        if hasattr(value, "__array__"):
            return np.asarray(value)
    except (TypeError, ValueError, RuntimeError):  # bfloat16, sparse, ragged: skip the check
        return None
    return None


def _strings_as_text(array: np.ndarray) -> np.ndarray:
    """A TensorFlow string tensor's numpy value (an object array of bytes) as a bytes array, so
    the checks see text, not Python objects; other arrays as they are."""
    if array.dtype != object or not array.size:
        return array
    if all(isinstance(item, bytes) for item in array.flat):
        return array.astype(np.bytes_)
    return array


def first_batch(
    obj: Any, input_rank: int | Mapping[str, int] | None, source: str, name: str
) -> ArraySplit | None:
    """The first `(x, y)` batch of a framework dataset as arrays; None when it is not that shape.

    A `DataLoader` or batched `tf.data.Dataset` yields batches. A torch map-style `Dataset`
    (indexable, not iterable) gives single samples: its first `FIRST_SAMPLES` are stacked into a
    batch. An unbatched `tf.data.Dataset` yields single samples too, recognised by having the
    model's input rank (or a scalar label) and given a batch axis of one.
    """
    try:
        if hasattr(obj, "__iter__"):
            item = next(iter(obj))
        else:
            count = min(len(obj), FIRST_SAMPLES) if hasattr(obj, "__len__") else 1
            samples = [obj[i] for i in range(count)]
            if not samples:
                raise StopIteration
            item = _stack_samples(samples)
            if item is None:
                return None
            return ArraySplit(*item)
    except (StopIteration, IndexError):
        return ArraySplit(np.empty((0,)), np.empty((0,)))
    except Exception as exc:  # the user's pipeline failed: that is their input, not our bug
        raise BadInputError(
            f"{source}: reading the first {name} batch failed: {type(exc).__name__}: {exc}"
        ) from exc
    pair = _pair(item)
    if pair is None:
        return None
    x, y = pair
    if isinstance(x, Mapping) or isinstance(y, Mapping):
        if _single_named_sample(x, y, input_rank):
            x, y = _add_batch_axis(x), _add_batch_axis(y)
        return ArraySplit(x, y)
    if _is_one_sample(x, y, None if isinstance(input_rank, Mapping) else input_rank):
        x, y = x[None], y[None]
    return ArraySplit(x, y)


def _is_one_sample(x: np.ndarray, y: np.ndarray, input_rank: int | None) -> bool:
    """Whether a dataset element is one sample rather than a batch.

    Text is ambiguous by rank: a batch of sentences `(B,)` has the rank of one `(1,)` sample.
    Its label decides: a scalar label (or a count that differs from the rows) is one sample.
    """
    if is_text(x) and input_rank is not None:
        if x.ndim < input_rank or y.ndim == 0:
            return True
        return x.ndim == input_rank and x.shape[0] != y.shape[0]
    return (input_rank is not None and x.ndim == input_rank) or (input_rank is None and y.ndim == 0)


def _single_named_sample(x: Any, y: Any, ranks: int | Mapping[str, int] | None) -> bool:
    """An unbatched dataset of named inputs: each input has its per-sample rank (or, with no
    ranks known, every label is a scalar)."""
    if isinstance(x, Mapping) and isinstance(ranks, Mapping):
        known = [key for key in x if key in ranks]
        return bool(known) and all(x[key].ndim == ranks[key] for key in known)
    if not isinstance(x, Mapping) and isinstance(ranks, int):
        return bool(x.ndim == ranks)
    labels = y.values() if isinstance(y, Mapping) else [y]
    return all(label.ndim == 0 for label in labels)


def _add_batch_axis(arrays: Any) -> Any:
    if isinstance(arrays, Mapping):
        return {key: value[None] for key, value in arrays.items()}
    return arrays[None]


#: Samples read from a map-style dataset to stand for its first batch.
FIRST_SAMPLES = 32


def _pair(item: Any) -> tuple[Any, Any] | None:
    """`(x, y, ...)` as numpy arrays (dicts of them for named inputs or outputs); None for
    unlabeled data or values that do not convert."""
    if not isinstance(item, tuple | list) or len(item) < 2:
        return None
    x, y = _to_numpy_named(item[0]), _to_numpy_named(item[1])
    return None if x is None or y is None else (x, y)


def _to_numpy_named(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return to_numpy(value)
    arrays = {str(key): to_numpy(inner) for key, inner in value.items()}
    return None if not arrays or any(a is None for a in arrays.values()) else arrays


def _stack_samples(samples: list[Any]) -> tuple[np.ndarray, np.ndarray] | None:
    pairs = [_pair(sample) for sample in samples]
    if any(p is None or isinstance(p[0], Mapping) or isinstance(p[1], Mapping) for p in pairs):
        return None  # named samples of a torch Dataset: the model's forward decides
    xs = [p[0] for p in pairs if p is not None]
    ys = [p[1] for p in pairs if p is not None]
    if len({x.shape for x in xs}) != 1 or len({y.shape for y in ys}) != 1:
        return None  # ragged samples: the framework's collate function decides
    return np.stack(xs), np.stack(ys)
