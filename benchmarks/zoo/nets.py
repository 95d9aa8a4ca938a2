"""Model factories for the development zoo (torch), named with --model-factory."""

from __future__ import annotations

from torch import nn  # noqa: TID253 - a factory file is torch code


def mlp(
    inputs: int = 30,
    hidden: int = 32,
    classes: int = 2,
    depth: int = 1,
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.Module:
    """inputs -> depth x (hidden, activation[, dropout]) -> classes; logits out."""
    layers: list[nn.Module] = []
    width = inputs
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.Sigmoid() if activation == "sigmoid" else nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = hidden
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)
