"""Data for Keras: numpy arrays to tf.data pipelines, native datasets passed through, checks.

Arrays are batched the way Keras' own array adapter does it (a dataset of index batches zipped
with the whole arrays, gathered per batch): vectorised, so plateau-cli's pipeline costs no more
per epoch than `model.fit(x, y)`. Each epoch draws one permutation of the row indices
(`stateless_shuffle` under a per-epoch seed from `Dataset.random(seed,
rerandomize_each_iteration=True)`) and slices it into batches: a re-run with the same seed sees
the same batches, and each epoch another order. An element-wise `Dataset.range(n).shuffle(n)`
did the same but cost 0.1 s of CPU per epoch on 50,000 rows (10 % of a batch-256 MLP epoch)
and 2.7 s on 1,000,000 (measured, TF 2.21). The augment strategy's `train_transform` is mapped
over training batches only; validation batches are never transformed and come in order.

One copy of the arrays: an aligned numpy array (data/aligned.py: the readers allocate them so)
becomes a tensor through DLPack, sharing its memory, instead of `tf.convert_to_tensor`'s copy;
and the array pipelines turn off tf.data's default graph rewrites, which serialise the dataset
graph with the whole array in it and hold one more copy per iterator (+256 MB on a 256 MB
array, measured). The pipeline is a few ops that none of those rewrites would change. Under
`enable_op_determinism` (the seeded runs) TensorFlow 2.21 still copies the array into each
iterator whatever the options (measured; the copy goes with the iterator when `fit` ends).

Measured with TF 2.21: inside a tf.data map, a stateful random op (`tf.random.normal` with the
global seed set) restarts its stream with every new iterator, i.e. every epoch, so it draws the
same noise each epoch. A transform should draw from a `tf.random.Generator` (its state is a
variable that survives iterators): different noise each epoch, identical on a seeded re-run.
The transform is mapped in order (no `num_parallel_calls`): with parallel calls the batches
take their draws from that shared state in whatever order the threads run, and three runs with
the same seed gave three different augmentations (measured; `deterministic=True` orders only
the outputs). Prefetching still overlaps it with training.

`copies` (augment's `--copies`) makes one epoch that many passes over the training arrays,
each in its own order, batched as one stream; evaluation passes and validation stay single and
in order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from plateau_cli.data import aligned
from plateau_cli.data.base import DataBundle
from plateau_cli.data.named import name_mismatch
from plateau_cli.errors import DataMismatchError

Transform = Callable[[Any, Any], tuple[Any, Any]]


@dataclass(frozen=True)
class Prepared:
    """What `prepare` returns; opaque to the core.

    Each array pipeline is built when first used: building one traces its functions (0.02-0.035
    s of CPU, measured), and a run uses only some of them (the baseline's training sample is
    only evaluated in order; the in-order training pass only by --full-train-eval, a small set,
    or a strategy that reads activations).
    """

    build_train: Callable[[], tf.data.Dataset]
    build_val: Callable[[], tf.data.Dataset]
    #: The training data in order and untransformed, for `evaluate(split="train")`.
    build_train_eval: Callable[[], tf.data.Dataset]
    steps: int | None
    batch_size: int | None

    @functools.cached_property
    def train(self) -> tf.data.Dataset:
        return self.build_train()

    @functools.cached_property
    def val(self) -> tf.data.Dataset:
        return self.build_val()

    @functools.cached_property
    def train_eval(self) -> tf.data.Dataset:
        return self.build_train_eval()


def _built(dataset: tf.data.Dataset) -> Callable[[], tf.data.Dataset]:
    return lambda: dataset


def prepare(
    data: DataBundle,
    batch_size: int,
    seed: int,
    transform: Transform | None,
    input_rank: Rank,
    input_dtype: str,
    copies: int = 1,
) -> Prepared:
    if data.is_arrays:
        cast = None if data.is_multi else _feature_dtype(data.train.x, input_dtype)
        x_train, y_train = _tensors(data.train.x), _tensors(data.train.y)
        x_val, y_val = _tensors(data.val.x), _tensors(data.val.y)

        def train() -> tf.data.Dataset:
            batches = _batches(x_train, y_train, batch_size, seed, cast, copies)
            if transform is not None:
                batches = batches.map(transform)  # in order: see the module docstring
            return _finish(batches)

        prepared = Prepared(
            build_train=train,
            build_val=lambda: _finish(_batches(x_val, y_val, batch_size, None, cast)),
            build_train_eval=lambda: _finish(_batches(x_train, y_train, batch_size, None, cast)),
            steps=-(-len(data.train) * copies // batch_size),
            batch_size=batch_size,
        )
        if transform is not None:
            _ = prepared.train  # traced now: a transform that cannot apply fails before training
        return prepared
    train = _batched(data.train, batch_size, input_rank, data.source, "training")
    val = _batched(data.val, batch_size, input_rank, data.source, "validation")
    transformed = train.repeat(copies) if copies > 1 else train
    if transform is not None:
        transformed = transformed.map(transform)  # in order: see the module docstring
    cardinality = int(transformed.cardinality())
    return Prepared(
        build_train=_built(transformed),
        build_val=_built(val),
        build_train_eval=_built(train),
        steps=cardinality if cardinality >= 0 else None,
        batch_size=None,
    )


def _tensors(arrays: Any) -> Any:
    """One tensor, or a dict of tensors for named inputs/outputs (what Keras matches by name)."""
    return tf.nest.map_structure(as_tensor, dict(arrays) if isinstance(arrays, Mapping) else arrays)


def _feature_dtype(x: np.ndarray, input_dtype: str) -> tf.DType | None:
    """The model's float dtype when the features need casting to it (uint8 images, float64).

    Cast per batch, not up front: a uint8 image set would take four times the memory as float32.
    """
    if input_dtype.startswith("float") and x.dtype != input_dtype and x.dtype.kind in "biuf":
        return tf.as_dtype(input_dtype)
    return None


def as_tensor(array: np.ndarray) -> tf.Tensor:
    """The array as a tensor sharing its memory where TensorFlow allows it, else a copy."""
    if aligned.is_shareable(array):
        try:
            return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
        except (BufferError, TypeError, ValueError, tf.errors.InvalidArgumentError):
            pass  # a dtype DLPack or this TensorFlow does not take: copy
    return tf.convert_to_tensor(array)


def _finish(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Prefetched; without the default rewrites that would copy the arrays (module docstring)."""
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def _batches(
    x: tf.Tensor,
    y: tf.Tensor,
    batch_size: int,
    seed: int | None,
    cast: tf.DType | None,
    copies: int = 1,
) -> tf.data.Dataset:
    n = int(tf.nest.flatten(x)[0].shape[0])
    total = n * copies
    if seed is None:
        orders = tf.data.Dataset.from_tensors(tf.range(total, dtype=tf.int64) % n)
    else:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

        def permutation(pass_seeds: tf.Tensor) -> tf.Tensor:
            pass_seeds = tf.reshape(pass_seeds, (copies, 2))
            rows = tf.range(n, dtype=tf.int64)
            shuffle = tf.random.experimental.stateless_shuffle
            return tf.concat([shuffle(rows, pass_seeds[i]) for i in range(copies)], axis=0)

        orders = seeds.take(2 * copies).batch(2 * copies).map(permutation)
    full = total // batch_size

    def batches(order: tf.Tensor) -> tf.data.Dataset:
        sliced = tf.data.Dataset.from_tensor_slices(
            tf.reshape(order[: full * batch_size], (full, batch_size))
        )
        if total % batch_size:
            sliced = sliced.concatenate(tf.data.Dataset.from_tensors(order[full * batch_size :]))
        return sliced

    # flat_map hides the length; Keras needs it to end its epochs where the data does.
    steps = full + (1 if total % batch_size else 0)
    indices = orders.flat_map(batches).apply(tf.data.experimental.assert_cardinality(steps))
    whole = tf.data.Dataset.from_tensors((x, y)).repeat()

    def gather(index: tf.Tensor, arrays: tuple[Any, Any]) -> tuple[Any, Any]:
        features = tf.nest.map_structure(lambda a: tf.gather(a, index), arrays[0])
        labels = tf.nest.map_structure(lambda a: tf.gather(a, index), arrays[1])
        return (features if cast is None else tf.cast(features, cast)), labels

    # No num_parallel_calls: TF 2.21's ParallelMapDatasetV2 logs a native "NodeDef mentions
    # attribute use_unbounded_threadpool" error line on every run, and a gather is cheap.
    return tf.data.Dataset.zip((indices, whole)).map(gather)


def _batched(
    dataset: Any, batch_size: int, input_rank: Rank, source: str, name: str
) -> tf.data.Dataset:
    if not isinstance(dataset, tf.data.Dataset):
        raise DataMismatchError(
            f"{source}: the {name} data is a {type(dataset).__module__}.{type(dataset).__name__};"
            " a Keras model needs a tf.data.Dataset of (x, y) or numpy arrays"
        )
    x_spec = _x_spec(dataset, source, name)
    if isinstance(x_spec, Mapping) and isinstance(input_rank, Mapping):
        known = [key for key in x_spec if key in input_rank]
        if known and all(len(x_spec[key].shape) == input_rank[key] for key in known):
            return dataset.batch(batch_size)
        return dataset
    if isinstance(input_rank, int) and _unbatched(dataset, x_spec, input_rank):
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


#: A model's per-sample input rank; one per name for several inputs.
Rank = int | Mapping[str, int] | None


def _x_spec(dataset: tf.data.Dataset, source: str, name: str) -> Any:
    """The features' TensorSpec, or a dict of them for named inputs."""
    spec = dataset.element_spec
    if isinstance(spec, tuple) and len(spec) >= 2:
        x = spec[0]
        if isinstance(x, tf.TensorSpec):
            return x
        if isinstance(x, Mapping) and x and all(isinstance(v, tf.TensorSpec) for v in x.values()):
            return {str(key): value for key, value in x.items()}
    raise DataMismatchError(
        f"{source}: the {name} dataset yields {spec}; it must yield (x, y) pairs of tensors"
        " (x may be a dict of tensors by input name)"
    )


def check_dataset_shapes(
    data: DataBundle,
    input_shape: tuple[int | None, ...] | None,
    inputs: Mapping[str, tuple[int | None, ...]] | None = None,
) -> None:
    """Native datasets: compare each element_spec's features with the model's input shape(s)."""
    for name, dataset in (("training", data.train), ("validation", data.val)):
        if not isinstance(dataset, tf.data.Dataset):
            _batched(dataset, 1, None, data.source, name)  # raises the one-line error
        spec = _x_spec(dataset, data.source, name)
        if isinstance(spec, Mapping):
            _check_named_specs(spec, inputs, data.source, name)
            continue
        if inputs is not None:
            raise DataMismatchError(
                f"{data.source}: the {name} dataset yields one feature tensor but the model has"
                f" {len(inputs)} inputs ({', '.join(map(repr, inputs))}); yield"
                " ({name: tensor, ...}, y) pairs keyed by input name"
            )
        if input_shape is not None:
            _check_spec(spec, input_shape, data.source, f"the {name} dataset yields features of")


def _check_named_specs(
    specs: Mapping[str, tf.TensorSpec],
    inputs: Mapping[str, tuple[int | None, ...]] | None,
    source: str,
    name: str,
) -> None:
    if inputs is None:
        raise DataMismatchError(
            f"{source}: the {name} dataset yields named features"
            f" ({', '.join(map(repr, specs))}) but the model has one input; yield (x, y) pairs"
        )
    mismatch = name_mismatch(inputs, specs, "tensor", "input")
    if mismatch:
        raise DataMismatchError(
            f"{source}: the {name} dataset: {mismatch} (the model's inputs:"
            f" {', '.join(map(repr, inputs))})"
        )
    for key, expected in inputs.items():
        _check_spec(specs[key], expected, source, f"the {name} dataset yields input {key!r} of")


def _check_spec(
    spec: tf.TensorSpec, expected: tuple[int | None, ...], source: str, what: str
) -> None:
    dims = tuple(spec.shape.as_list()) if spec.shape.rank is not None else None
    if dims is None:
        return
    sample = dims[1:] if len(dims) == len(expected) + 1 else dims
    one_string = spec.dtype == tf.string and sample in ((), (None,)) and expected == (1,)
    if not one_string and not _compatible(sample, expected):
        raise DataMismatchError(
            f"{source}: {what} shape {_text(dims)} but the model's input is {_text(expected)}"
            " per sample (plus the batch axis)"
        )


def _compatible(actual: tuple[int | None, ...], expected: tuple[int | None, ...]) -> bool:
    return len(actual) == len(expected) and all(
        a is None or e is None or a == e for a, e in zip(actual, expected, strict=True)
    )


def _text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def probe(model: Any, data: DataBundle) -> None:
    """Run the model on two training samples: a shape error becomes DataMismatchError."""
    features = data.train.x
    if isinstance(features, Mapping):
        x: Any = {key: np.asarray(value[:2]) for key, value in features.items()}
        given = ", ".join(f"{key} {_text(value.shape[1:])}" for key, value in x.items())
    else:
        x = np.asarray(features[:2])
        given = _text(x.shape[1:])
    try:
        model(tf.nest.map_structure(_as_model_input, x), training=False)
    except (ValueError, TypeError, KeyError, tf.errors.InvalidArgumentError) as exc:
        expected = _text(tuple(model.inputs[0].shape[1:])) if _single_input(model) else "?"
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataMismatchError(
            f"{data.source}: the model cannot take the training features: samples of shape"
            f" {given}, the model expects {expected} ({cause[:200]})"
        ) from exc


def _as_model_input(array: np.ndarray) -> Any:
    """Keras converts numpy strings to no tensor of its own; TensorFlow makes them tf.string."""
    return tf.convert_to_tensor(array) if array.dtype.kind in "SU" else array


def _single_input(model: Any) -> bool:
    try:
        return len(model.inputs) == 1
    except (AttributeError, ValueError):
        return False
