"""Transfer-learning plateaus for the unfreeze tests: the sample models, or the same recipe here.

The recipe is the sample `unfreeze` scenario's (and FINDINGS §4's) at a smaller scale: a
convolutional base pretrained on the digits 0-4, then frozen, and a dense head trained on all
ten digits on top of it. `frozen_cnn` is also the torch factory (`--model-factory
tests/strategies/unfreeze/models.py:frozen_cnn`): state-dict names `base.0` (conv), `base.1`
(BatchNorm), `base.4` (conv), `head`, like sample_models/torch/nets.py's `small_cnn`.
Framework imports stay inside the functions: the Keras tests never load torch for this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "sample_models"
THIS = Path(__file__).resolve()
PRETRAIN = (0, 1, 2, 3, 4)
CHANNELS = 8


def digits_images(path: Path, channels_first: bool) -> Path:
    """digits as 8x8 images, 1,437 train / 360 val, like sample_models/data."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order].astype(np.int64)
    x = x.reshape(-1, 1, 8, 8) if channels_first else x.reshape(-1, 8, 8, 1)
    np.savez(path, x_train=x[:1437], y_train=y[:1437], x_val=x[1437:], y_val=y[1437:])
    return path


# -- Keras ------------------------------------------------------------------------------------
def keras_plateau(root: Path) -> tuple[Path, Path]:
    """(model.keras, data.npz): the sample when present, else built here (~3 s)."""
    model = SAMPLES / "keras" / "unfreeze" / "model.keras"
    data = SAMPLES / "data" / "digits_images.npz"
    if model.exists() and data.exists():
        return model, data
    data = digits_images(root / "images.npz", channels_first=False)
    return build_keras(root / "frozen.keras", data), data


def keras_base() -> Any:
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(CHANNELS, 3, padding="same", name="conv1"),
            layers.BatchNormalization(name="bn1"),
            layers.ReLU(name="relu1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(CHANNELS, 3, padding="same", activation="relu", name="conv2"),
            layers.GlobalAveragePooling2D(name="gap"),
        ],
        name="base",
    )


def keras_transfer(base: Any, classes: int) -> Any:
    import keras

    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(classes, activation="softmax", name="head")(base(inputs))
    return keras.Model(inputs, outputs)


def build_keras(path: Path, data: Path, head_epochs: int = 8) -> Path:
    import keras

    keras.utils.set_random_seed(0)
    arrays = np.load(data)
    x, y = arrays["x_train"], arrays["y_train"]
    keep = np.isin(y, PRETRAIN)
    base = keras_base()
    pre = keras_transfer(base, len(PRETRAIN))
    pre.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    pre.fit(x[keep], y[keep], epochs=5, batch_size=32, verbose=0)
    base.trainable = False
    model = keras_transfer(base, 10)
    model.compile(
        optimizer=keras.optimizers.Adam(0.03),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=head_epochs, batch_size=32, verbose=0)
    model.save(path)
    return path


# -- torch ------------------------------------------------------------------------------------
def frozen_cnn(channels: int = CHANNELS, classes: int = 10) -> Any:
    """The torch factory: base (conv-BN-ReLU-pool-conv-ReLU-GAP) + linear head, NCHW 1x8x8."""
    from torch import nn

    class BaseAndHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base = nn.Sequential(
                nn.Conv2d(1, channels, 3, padding=1),
                nn.BatchNorm2d(channels),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(channels, channels, 3, padding=1),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
            )
            self.head = nn.Linear(channels, classes)

        def forward(self, x: Any) -> Any:
            return self.head(self.base(x))

    return BaseAndHead()


def torch_plateau(root: Path) -> tuple[Path, Path, str]:
    """(checkpoint.pt, data.npz, factory): the sample when present, else built here (~2 s)."""
    checkpoint = SAMPLES / "torch" / "unfreeze" / "checkpoint.pt"
    data = SAMPLES / "data" / "digits_images_nchw.npz"
    nets = SAMPLES / "torch" / "nets.py"
    if checkpoint.exists() and data.exists() and nets.exists():
        return checkpoint, data, f"{nets}:small_cnn"
    data = digits_images(root / "images_nchw.npz", channels_first=True)
    return build_torch(root / "frozen.pt", data), data, f"{THIS}:frozen_cnn"


def _train(model: Any, optimizer: Any, x: Any, y: Any, epochs: int) -> None:
    import torch

    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        model.train()
        for index in torch.randperm(len(x), generator=generator).split(32):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x[index]), y[index]).backward()
            optimizer.step()


def build_torch(path: Path, data: Path, head_epochs: int = 8) -> Path:
    import torch

    torch.manual_seed(0)
    arrays = np.load(data)
    x, y = torch.from_numpy(arrays["x_train"]), torch.from_numpy(arrays["y_train"])
    keep = torch.from_numpy(np.isin(arrays["y_train"], PRETRAIN))
    pre = frozen_cnn(classes=len(PRETRAIN))
    _train(pre, torch.optim.Adam(pre.parameters(), lr=0.01), x[keep], y[keep], 5)
    model = frozen_cnn()
    model.base.load_state_dict(pre.base.state_dict())
    for parameter in model.base.parameters():
        parameter.requires_grad_(False)
    optimizer = torch.optim.Adam(model.head.parameters(), lr=0.01)
    _train(model, optimizer, x, y, head_epochs)
    torch.save(
        {
            "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(),
            "epoch": head_epochs,
        },
        path,
    )
    return path
