"""A real Keras model trained into a plateau on digits, saved with its optimizer state.

Made once per test session (a few seconds): a 64 -> 6 -> 10 MLP trained with Adam at a rate
that is too high, so its validation loss stalls and swings; the data ships with scikit-learn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def digits_npz(path: Path) -> Path:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    x, y = x[order], y[order].astype(np.int64)
    np.savez(path, x_train=x[:1400], y_train=y[:1400], x_val=x[1400:], y_val=y[1400:])
    return path


def stalled_keras_model(path: Path, data: Path, epochs: int = 12) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    arrays = np.load(data)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(6, activation="relu", name="hidden"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.05),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        arrays["x_train"],
        arrays["y_train"],
        validation_data=(arrays["x_val"], arrays["y_val"]),
        epochs=epochs,
        batch_size=64,
        verbose=0,
    )
    model.save(path)
    return path
