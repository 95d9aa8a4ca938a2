"""A `--data` entry point for Keras whose training batches turn to NaN from a chosen epoch on.

`resume --data tests/reliability/poison_data.py:keras_data`: digits (from scikit-learn, no
download) as tf.data datasets; from epoch PLATEAU_POISON_EPOCH (default 3) on, every input of
every training batch is NaN, as when a corrupt shard or an overflowing augmentation reaches a
real pipeline. A tf.data generator cannot see which epoch Keras is in (it runs on a TensorFlow
thread, and `resume` also iterates the training data to check and evaluate it), so the test
publishes the epoch in PLATEAU_TRAINING_EPOCH from Keras' `on_epoch_begin`; the generator reads
it when Keras starts the epoch's pass. (The torch twin needs no such help: see poison_nets.py.)
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

BATCH = 64
N_TRAIN = 1200


def _poison_epoch() -> int:
    return int(os.environ.get("PLATEAU_POISON_EPOCH", "3"))


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(x))
    return (x[order] / 16.0).astype(np.float32), y[order].astype(np.int64)


def keras_data() -> tuple[Any, Any]:
    import tensorflow as tf

    x, y = _digits()
    poison_from = _poison_epoch()

    def train() -> Any:
        poisoned = int(os.environ.get("PLATEAU_TRAINING_EPOCH", "0")) >= poison_from
        for start in range(0, N_TRAIN, BATCH):
            xb = x[start : start + BATCH]
            yield (np.full_like(xb, np.nan) if poisoned else xb), y[start : start + BATCH]

    signature = (
        tf.TensorSpec((None, 64), tf.float32),
        tf.TensorSpec((None,), tf.int64),
    )
    train_ds = tf.data.Dataset.from_generator(train, output_signature=signature)
    val_ds = tf.data.Dataset.from_tensor_slices((x[N_TRAIN:], y[N_TRAIN:])).batch(BATCH)
    return train_ds, val_ds
