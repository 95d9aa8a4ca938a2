"""Factories for widen's torch tests (named with --model-factory path/torch_nets.py:name)."""

from __future__ import annotations

# A factory module is user code: it imports torch at the top, as users' modules do.
import torch  # noqa: TID253
from torch import nn  # noqa: TID253
from torch.nn import functional as F  # noqa: TID253


def deep_mlp(hidden: int = 4, inputs: int = 8, classes: int = 3) -> nn.Module:
    """8 -> 16 -> hidden -> 3: the bottleneck `2` and an untouched first layer `0`."""
    return nn.Sequential(
        nn.Linear(inputs, 16),
        nn.ReLU(),
        nn.Linear(16, hidden),
        nn.ReLU(),
        nn.Linear(hidden, classes),
    )


def cnn(channels: int = 3, classes: int = 3) -> nn.Module:
    """6x6 single-channel images (NCHW): conv-BN-ReLU-pool-Flatten-Linear."""
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1),
        nn.BatchNorm2d(channels),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(channels * 9, classes),
    )


class ViewNet(nn.Module):
    """The older style: functional ReLU and x.view(x.size(0), -1) before the head."""

    def __init__(self, channels: int = 3, classes: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, channels, 3)
        self.head = nn.Linear(channels * 16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv(x))
        return self.head(x.view(x.size(0), -1))


def view_net(channels: int = 3) -> nn.Module:
    return ViewNet(channels)


class Residual(nn.Module):
    def __init__(self, hidden: int = 4) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(x))
        return self.out(h + self.fc2(h))


def residual(hidden: int = 4) -> nn.Module:
    return Residual(hidden)


class Shared(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(8, 6)
        self.twice = nn.Linear(6, 6)
        self.out = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.twice(torch.relu(self.twice(self.inp(x))))))


def shared() -> nn.Module:
    return Shared()


class Branchy(nn.Module):
    """Control flow on the data: torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 4)
        self.out = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        if h.sum() > 0:
            h = torch.relu(h)
        return self.out(h)


def branchy() -> nn.Module:
    return Branchy()
