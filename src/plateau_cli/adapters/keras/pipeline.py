"""Data for Keras: numpy arrays to tf.data pipelines, native datasets passed through, checks.

Arrays are batched the way Keras' own array adapter does it (a dataset of shuffled index
batches zipped with the whole arrays, gathered per batch): vectorised, so plateau-cli's
pipeline costs no more per epoch than `model.fit(x, y)`. The index dataset is shuffled with the
seed and reshuffled every epoch, so a re-run with the same seed sees the same batches. The
augment strategy's `train_transform` is mapped over training batches only; validation batches
are never transformed and come in order.

Measured with TF 2.21: inside a tf.data map, a stateful random op (`tf.random.normal` with the
global seed set) restarts its stream with every new iterator, i.e. every epoch, so it draws the
same noise each epoch. A transform should draw from a `tf.random.Generator` (its state is a
variable that survives iterators): different noise each epoch, identical on a seeded re-run.
The transform is mapped in order (no `num_parallel_calls`): with parallel calls the batches
take their draws from that shared state in whatever order the threads run, and three runs with
the same seed gave three different augmentations (measured; `deterministic=True` orders only
the outputs). Prefetching still overlaps it with training.

`copies` (augment's `--copies`) makes one epoch that many passes over the training arrays,
each reshuffled; evaluation passes and validation stay single and in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from plateau_cli.data.base import DataBundle
from plateau_cli.errors import DataMismatchError

Transform = Callable[[Any, Any], tuple[Any, Any]]


@dataclass(frozen=True)
class Prepared:
    """What `prepare` returns; opaque to the core."""

    train: tf.data.Dataset
    val: tf.data.Dataset
    #: The training data in order and untransformed, for `evaluate(split="train")`.
    train_eval: tf.data.Dataset
    steps: int | None
    batch_size: int | None


def prepare(
    data: DataBundle,
    batch_size: int,
    seed: int,
    transform: Transform | None,
    input_rank: int | None,
    input_dtype: str,
    copies: int = 1,
) -> Prepared:
    if data.is_arrays:
        cast = _feature_dtype(data.train.x, input_dtype)
        x_train, y_train = tf.convert_to_tensor(data.train.x), tf.convert_to_tensor(data.train.y)
        x_val, y_val = tf.convert_to_tensor(data.val.x), tf.convert_to_tensor(data.val.y)
        train = _batches(x_train, y_train, batch_size, seed, cast, copies)
        if transform is not None:
            train = train.map(transform)  # in order: see the module docstring
        in_order = _batches(x_train, y_train, batch_size, None, cast)
        return Prepared(
            train=train.prefetch(tf.data.AUTOTUNE),
            val=_batches(x_val, y_val, batch_size, None, cast).prefetch(tf.data.AUTOTUNE),
            train_eval=in_order.prefetch(tf.data.AUTOTUNE),
            steps=-(-len(data.train) * copies // batch_size),
            batch_size=batch_size,
        )
    train = _batched(data.train, batch_size, input_rank, data.source, "training")
    val = _batched(data.val, batch_size, input_rank, data.source, "validation")
    transformed = train.repeat(copies) if copies > 1 else train
    if transform is not None:
        transformed = transformed.map(transform)  # in order: see the module docstring
    cardinality = int(transformed.cardinality())
    return Prepared(
        train=transformed,
        val=val,
        train_eval=train,
        steps=cardinality if cardinality >= 0 else None,
        batch_size=None,
    )


def _feature_dtype(x: np.ndarray, input_dtype: str) -> tf.DType | None:
    """The model's float dtype when the features need casting to it (uint8 images, float64).

    Cast per batch, not up front: a uint8 image set would take four times the memory as float32.
    """
    if input_dtype.startswith("float") and x.dtype != input_dtype and x.dtype.kind in "biuf":
        return tf.as_dtype(input_dtype)
    return None


def _batches(
    x: tf.Tensor,
    y: tf.Tensor,
    batch_size: int,
    seed: int | None,
    cast: tf.DType | None,
    copies: int = 1,
) -> tf.data.Dataset:
    n = int(x.shape[0])
    indices = tf.data.Dataset.range(n)
    if seed is not None:
        indices = indices.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    if copies > 1:
        indices = indices.repeat(copies)  # each pass reshuffled
    indices = indices.batch(batch_size)
    whole = tf.data.Dataset.from_tensors((x, y)).repeat()

    def gather(index: tf.Tensor, arrays: tuple[tf.Tensor, tf.Tensor]) -> tuple[Any, Any]:
        features = tf.gather(arrays[0], index)
        return (features if cast is None else tf.cast(features, cast)), tf.gather(arrays[1], index)

    # No num_parallel_calls: TF 2.21's ParallelMapDatasetV2 logs a native "NodeDef mentions
    # attribute use_unbounded_threadpool" error line on every run, and a gather is cheap.
    return tf.data.Dataset.zip((indices, whole)).map(gather)


def _batched(
    dataset: Any, batch_size: int, input_rank: int | None, source: str, name: str
) -> tf.data.Dataset:
    if not isinstance(dataset, tf.data.Dataset):
        raise DataMismatchError(
            f"{source}: the {name} data is a {type(dataset).__module__}.{type(dataset).__name__};"
            " a Keras model needs a tf.data.Dataset of (x, y) or numpy arrays"
        )
    x_spec = _x_spec(dataset, source, name)
    if input_rank is not None and _unbatched(dataset, x_spec, input_rank):
        return dataset.batch(batch_size)
    return dataset


def _unbatched(dataset: tf.data.Dataset, x_spec: tf.TensorSpec, input_rank: int) -> bool:
    """Whether the dataset yields single samples (the model's input rank) rather than batches.

    Strings are ambiguous by rank: a batch of sentences `(None,)` has the rank of one `(1,)`
    sample; a scalar string or a scalar label marks single samples (see fit.first_batch).
    """
    rank = x_spec.shape.rank
    if x_spec.dtype == tf.string and rank is not None:
        y_spec = dataset.element_spec[1]
        y_rank = y_spec.shape.rank if isinstance(y_spec, tf.TensorSpec) else None
        return rank < input_rank or (rank == input_rank and y_rank == 0)
    return rank == input_rank


def _x_spec(dataset: tf.data.Dataset, source: str, name: str) -> tf.TensorSpec:
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) < 2 or not isinstance(spec[0], tf.TensorSpec):
        raise DataMismatchError(
            f"{source}: the {name} dataset yields {spec}; it must yield (x, y) pairs of tensors"
        )
    return spec[0]


def check_dataset_shapes(data: DataBundle, input_shape: tuple[int | None, ...] | None) -> None:
    """Native datasets: compare each element_spec's features with the model's input shape."""
    if input_shape is None:
        return
    for name, dataset in (("training", data.train), ("validation", data.val)):
        if not isinstance(dataset, tf.data.Dataset):
            _batched(dataset, 1, None, data.source, name)  # raises the one-line error
        spec = _x_spec(dataset, data.source, name)
        dims = tuple(spec.shape.as_list()) if spec.shape.rank is not None else None
        if dims is None:
            continue
        sample = dims[1:] if len(dims) == len(input_shape) + 1 else dims
        one_string = spec.dtype == tf.string and sample in ((), (None,)) and input_shape == (1,)
        if not one_string and not _compatible(sample, input_shape):
            raise DataMismatchError(
                f"{data.source}: the {name} dataset yields features of shape"
                f" {_text(dims)} but the model's input is {_text(input_shape)} per sample"
                " (plus the batch axis)"
            )


def _compatible(actual: tuple[int | None, ...], expected: tuple[int | None, ...]) -> bool:
    return len(actual) == len(expected) and all(
        a is None or e is None or a == e for a, e in zip(actual, expected, strict=True)
    )


def _text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def probe(model: Any, data: DataBundle) -> None:
    """Run the model on two training samples: a shape error becomes DataMismatchError."""
    x = np.asarray(data.train.x[:2])
    try:
        # Keras converts numpy strings to no tensor of its own; TensorFlow makes them tf.string.
        model(tf.convert_to_tensor(x) if x.dtype.kind in "SU" else x, training=False)
    except (ValueError, TypeError, tf.errors.InvalidArgumentError) as exc:
        expected = _text(tuple(model.inputs[0].shape[1:])) if _single_input(model) else "?"
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataMismatchError(
            f"{data.source}: the model cannot take the training features: samples of shape"
            f" {_text(x.shape[1:])}, the model expects {expected} ({cause[:200]})"
        ) from exc


def _single_input(model: Any) -> bool:
    try:
        return len(model.inputs) == 1
    except (AttributeError, ValueError):
        return False
