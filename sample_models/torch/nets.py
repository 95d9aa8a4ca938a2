"""Model factories for the torch samples, named on the command line with --model-factory.

    plateau-cli resume sample_models/torch/widen/checkpoint.pt --strategy widen \\
        --data sample_models/data/digits.npz \\
        --model-factory sample_models/torch/nets.py:mlp --factory-arg hidden=4

A checkpoint holds weights only; these functions hold the code that builds the modules. Widths
are keyword arguments so that a widened checkpoint is rebuilt with the new width
(`--factory-arg hidden=16`). Plain torch, nothing else: a user's own nets.py looks like this.
"""

from __future__ import annotations

import torch  # noqa: TID253 - a factory file is torch code
from torch import nn  # noqa: TID253

ACTIVATIONS = ("relu", "leaky_relu")
LEAKY_SLOPE = 0.1


def mlp(
    hidden: int = 64, activation: str = "relu", inputs: int = 64, classes: int = 10
) -> nn.Module:
    """inputs -> hidden -> classes; logits out (train with CrossEntropyLoss).

    State-dict names: `0.weight`, `0.bias` (hidden layer), `2.weight`, `2.bias` (output).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {', '.join(ACTIVATIONS)}. Received: {activation!r}"
        )
    act = nn.ReLU() if activation == "relu" else nn.LeakyReLU(LEAKY_SLOPE)
    return nn.Sequential(nn.Linear(inputs, hidden), act, nn.Linear(hidden, classes))


class SmallCNN(nn.Module):
    """A convolutional base and a linear head: the usual shape of a fine-tuned model.

    Input: NCHW, 1x8x8 digits. The base ends in global average pooling, so it hands the head
    `channels` features; a base pretrained on other classes and frozen is what limits it.
    """

    def __init__(self, channels: int = 8, classes: int = 10) -> None:
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.base(x))


def small_cnn(channels: int = 8, classes: int = 10) -> nn.Module:
    return SmallCNN(channels, classes)
