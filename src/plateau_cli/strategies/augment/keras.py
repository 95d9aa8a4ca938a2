"""augment for Keras: preprocessing layers and noise in the tf.data pipeline, mixup by weights.

Image transforms are Keras' own preprocessing layers (RandomFlip, RandomRotation,
RandomTranslation, RandomZoom, RandomContrast, RandomBrightness), mapped over the training
batches by the adapter's pipeline; with `--bake` they are prepended to the model instead, where
Keras runs them in `fit` and skips them in `predict`/`evaluate`. Every random draw comes from
seeded state that lives in a variable (the layers' SeedGenerators, a `tf.random.Generator` for
noise and mixup), so each epoch draws afresh and a re-run with the same seed draws the same.

Mixup with integer labels and sparse categorical cross-entropy: cross-entropy is linear in its
target, so the loss on the soft target lam*a + (1-lam)*b equals lam*CE(a) + (1-lam)*CE(b). Each
mixed input is therefore fed twice, once with each label, weighted 2*lam and 2*(1-lam) (the loss
averages over the doubled batch). That is exactly categorical cross-entropy on mixed one-hot
targets, without recompiling: the optimizer object and its state are untouched, validation keeps
its integer labels, and the saved model keeps its original sparse loss, so it loads and
evaluates on the original labels in plain Keras. Other losses (one-hot categorical, binary,
regression) take the mixed labels directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from plateau_cli.adapters.keras.compiling import LOSS_TASKS, loss_name
from plateau_cli.adapters.keras.optimizer import compile_arguments
from plateau_cli.data.base import DataBundle
from plateau_cli.errors import UsageError
from plateau_cli.strategies.augment.plan import Applied, FeatureStats, Plan

#: Samples read from a native tf.data.Dataset to estimate the per-feature spread.
STATS_SAMPLES = 4096
SPARSE = "sparse_categorical_crossentropy"


def apply(handle: Any, data: DataBundle, plan: Plan, seed: int, rebuild: bool = False) -> Applied:
    """Set the training transform (and, with --bake, prepend the layers to the model).

    `rebuild`: the model was reloaded from a continuation checkpoint, which already holds any
    baked layers; only the input pipeline's part is made again.
    """
    if plan.needs_stats:
        stats = (
            FeatureStats.of(data.train.x)
            if data.is_arrays
            else FeatureStats.of(_sample(data.train, len(plan.sample_shape)))
        )
        plan = plan.with_stats(stats)
    notes: list[str] = []
    layers = [
        _layer(spec.name, spec.value, plan, seed + i)
        for i, spec in enumerate(plan.image_transforms)
    ]
    if plan.bake:
        if not rebuild:
            notes.append(_bake(handle, layers))
        layers = []
    mixup = _mixup_labels(handle.model) if plan.has("mixup") else None
    if mixup == SPARSE:
        notes.append(
            "mixup with integer labels: each mixed input is trained on both of its labels,"
            " weighted 2*lam and 2*(1-lam), which equals categorical cross-entropy on the mixed"
            " one-hot targets; the model keeps its sparse loss"
        )
    noise = None
    if plan.has("noise") and plan.stats is not None:
        noise = plan.stats.std * float(plan.value("noise"))
    handle.train_transform = (
        _transform(layers, noise, plan.value("mixup"), mixup, seed)
        if layers or noise is not None or mixup is not None
        else None
    )
    handle.train_copies = plan.copies
    return Applied(plan, tuple(notes), {"mixup_labels": mixup} if mixup else {})


def _layer(name: str, value: Any, plan: Plan, seed: int) -> keras.layers.Layer:
    """The Keras preprocessing layer for one image transform, named `augment_<name>`."""
    data_format = "channels_last" if plan.channels_last else "channels_first"
    common = {"seed": seed, "name": f"augment_{name}"}
    spatial = {**common, "data_format": data_format}
    if name == "flip":
        mode = {"both": "horizontal_and_vertical"}.get(value, value)
        return keras.layers.RandomFlip(mode, **spatial)
    if name == "rotate":
        return keras.layers.RandomRotation(float(value) / 360.0, **spatial)
    if name == "shift":
        return keras.layers.RandomTranslation(float(value), float(value), **spatial)
    if name == "zoom":
        return keras.layers.RandomZoom(float(value), **spatial)
    assert plan.stats is not None  # contrast and brightness need the value range
    if name == "contrast":
        return keras.layers.RandomContrast(
            float(value), value_range=plan.stats.value_range, data_format=data_format, **common
        )
    if name == "brightness":
        return keras.layers.RandomBrightness(
            float(value), value_range=plan.stats.value_range, data_format=data_format, **common
        )
    raise ValueError(f"not an image transform: {name!r}")


def _transform(
    layers: list[keras.layers.Layer],
    noise: np.ndarray | None,
    alpha: float | None,
    mixup: str | None,
    seed: int,
) -> Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, ...]]:
    generator = tf.random.Generator.from_seed(seed)
    scale = None if noise is None else tf.constant(noise)

    def transform(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, ...]:
        for layer in layers:
            x = layer(x, training=True)
        if scale is not None:
            x = x + generator.normal(tf.shape(x), dtype=x.dtype) * tf.cast(scale, x.dtype)
        if mixup is None or alpha is None:
            return x, y
        return _mix(generator, x, y, float(alpha), mixup == SPARSE)

    return transform


def _mix(
    generator: tf.random.Generator, x: tf.Tensor, y: tf.Tensor, alpha: float, sparse: bool
) -> tuple[tf.Tensor, ...]:
    """Each sample mixed with a random partner from the batch, lam ~ Beta(alpha, alpha)."""
    n = tf.shape(x)[0]
    seeds = generator.make_seeds(2)
    a = tf.random.stateless_gamma([n], seed=seeds[:, 0], alpha=alpha, dtype=tf.float32)
    b = tf.random.stateless_gamma([n], seed=seeds[:, 1], alpha=alpha, dtype=tf.float32)
    lam = tf.math.divide_no_nan(a, a + b)
    partner = tf.argsort(generator.uniform([n]))
    lam_x = tf.cast(_per_sample(lam, x), x.dtype)
    mixed = lam_x * x + (1 - lam_x) * tf.gather(x, partner)
    if sparse:
        weights = tf.concat([2 * lam, 2 * (1 - lam)], 0)
        return tf.concat([mixed, mixed], 0), tf.concat([y, tf.gather(y, partner)], 0), weights
    labels = tf.cast(y, tf.float32)
    lam_y = _per_sample(lam, labels)
    mixed_y = lam_y * labels + (1 - lam_y) * tf.gather(labels, partner)
    return mixed, tf.cast(mixed_y, y.dtype if y.dtype.is_floating else tf.float32)


def _per_sample(values: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """(n,) -> (n, 1, ..., 1), to broadcast one value per sample over `like`."""
    ones = tf.ones([tf.rank(like) - 1], tf.int32)
    return tf.reshape(values, tf.concat([tf.shape(values), ones], 0))


def _mixup_labels(model: Any) -> str:
    """How this model's loss takes mixup's soft targets: SPARSE (weighted pair) or "mixed"."""
    name = loss_name(getattr(model, "loss", None))
    if name == SPARSE:
        return SPARSE
    if name in LOSS_TASKS:
        return "mixed"
    raise UsageError(
        f"--mixup: the model's loss {name or 'is not set'} is not one plateau-cli knows how to"
        f" give soft targets; known: {', '.join(sorted(LOSS_TASKS))} (or drop --mixup)"
    )


def _bake(handle: Any, layers: list[keras.layers.Layer]) -> str:
    """Prepend the layers to the model; the optimizer (and its state) carries on unchanged.

    The model is rebuilt over the same layer objects (`clone_model` with the layers themselves),
    so its variables are the very ones the optimizer was built over: moments and step count
    carry on. Nesting the loaded model itself would not do: it is compiled, so the archive
    would save the optimizer under the inner model and the outer one would reload empty.
    """
    original = handle.model
    if len(original.inputs) != 1:
        raise UsageError(
            f"--bake needs a model with one input; {original.name} has {len(original.inputs)}"
        )
    try:
        body = keras.models.clone_model(original, clone_function=lambda layer: layer)
    except ValueError as exc:
        raise UsageError(
            f"--bake needs a Sequential or functional Keras model; {original.name} is a"
            f" subclassed {type(original).__name__} ({exc}). Drop --bake: the transforms still"
            " run in the input pipeline"
        ) from exc
    spec = original.inputs[0]
    inputs = keras.Input(shape=tuple(spec.shape[1:]), dtype=spec.dtype, name="augment_input")
    x = inputs
    for layer in layers:
        x = layer(x)
    baked = keras.Model(inputs, body(x), name=f"{original.name}_augmented")
    arguments = compile_arguments(original)
    arguments["optimizer"] = original.optimizer
    baked.compile(**arguments)
    handle.model = baked
    names = ", ".join(layer.name for layer in layers)
    return (
        f"--bake: {names} prepended to the model (active in training only; predict and evaluate"
        " skip them); the optimizer and its state carry on"
    )


def _sample(dataset: Any, rank: int) -> np.ndarray:
    """Up to STATS_SAMPLES training inputs of a native dataset (for the per-feature spread)."""
    spec = dataset.element_spec[0]
    batched = dataset.batch(256) if len(spec.shape) == rank else dataset
    parts, count = [], 0
    for x, *_ in batched:
        parts.append(np.asarray(x))
        count += len(parts[-1])
        if count >= STATS_SAMPLES:
            break
    if not parts:
        raise UsageError("augment: the training dataset yields nothing; nothing to augment")
    return np.concatenate(parts)[:STATS_SAMPLES]
