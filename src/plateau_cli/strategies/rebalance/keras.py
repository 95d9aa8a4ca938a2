"""rebalance for Keras: class-weighted resampling of every training batch, or class weights
as sample weights on every training batch (both a tf.data map), and the predicted classes on
the validation batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from plateau_cli.adapters.keras.handle import KerasHandle
from plateau_cli.strategies.rebalance.balance import labels_from_outputs


def sampler(weights: np.ndarray, seed: int) -> Callable[[Any, Any], tuple[Any, Any]]:
    log_weights = tf.constant(np.log(np.maximum(weights, 1e-30)), dtype=tf.float32)

    def transform(x: Any, y: Any) -> tuple[Any, Any]:
        labels = _labels(y)
        logits = tf.gather(log_weights, labels)[tf.newaxis, :]
        index = tf.random.categorical(logits, tf.shape(labels)[0], seed=seed)[0]
        return tf.gather(x, index), tf.gather(y, index)

    return transform


def weigher(weights: np.ndarray) -> Callable[[Any, Any], tuple[Any, Any, Any]]:
    """(x, y) -> (x, y, sample weights): Keras' fit weighs each sample's loss by its class's
    weight, averaged over the batch, as `class_weight` does."""
    table = tf.constant(weights, dtype=tf.float32)

    def transform(x: Any, y: Any) -> tuple[Any, Any, Any]:
        return x, y, tf.gather(table, _labels(y))

    return transform


def _labels(y: Any) -> Any:
    if y.shape.rank == 2 and y.shape[-1] is not None and y.shape[-1] > 1:
        return tf.argmax(y, axis=-1, output_type=tf.int32)
    flat = tf.reshape(y, [-1])
    if flat.dtype.is_floating:
        return tf.cast(flat > 0.5, tf.int32)
    return tf.cast(flat, tf.int32)


def predicted(handle: KerasHandle, batches: Any) -> tuple[np.ndarray, np.ndarray]:
    truth, outputs = [], []
    for xb, yb in batches:
        outputs.append(np.asarray(keras.ops.convert_to_numpy(handle.model(xb, training=False))))
        truth.append(np.asarray(_labels(tf.convert_to_tensor(yb))))
    out = np.concatenate(outputs).astype(np.float64)
    activation = (handle.io_spec().output_activation or "").lower()
    return np.concatenate(truth), labels_from_outputs(out, activation not in ("sigmoid",))
