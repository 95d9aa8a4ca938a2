"""The torch models of benchmarks/overhead.py (plateau-cli builds them through --model-factory).

`mlp()`: 64 -> 256 -> 256 -> 10, 85,002 parameters. `cnn()`: a small ResNet for 32x32x3 images
(a stride-2 stem, three stages of one residual block each, 32/64/80 channels, BatchNorm),
about 0.28 M parameters. The Keras twins are built in overhead.py with the same shapes.
"""

from __future__ import annotations

import torch  # noqa: TID253 (a model file for --model-factory, as a user writes it)
from torch import nn  # noqa: TID253


def mlp(features: int = 64, hidden: int = 256, classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Linear(features, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, classes),
    )


def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


class Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.first = _conv_bn(channels, channels)
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.bn(self.conv(self.first(x))))


def cnn(classes: int = 10) -> nn.Module:
    return nn.Sequential(
        _conv_bn(3, 32, stride=2),  # 32x32 -> 16x16
        Residual(32),
        _conv_bn(32, 64, stride=2),  # -> 8x8
        Residual(64),
        _conv_bn(64, 80, stride=2),  # -> 4x4
        Residual(80),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(80, classes),
    )
