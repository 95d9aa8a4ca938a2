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


def cnn(
    channels: int = 8, hidden: int = 32, classes: int = 10, size: int = 8, in_channels: int = 1
) -> nn.Module:
    """(in_channels, size, size) -> conv 3x3 (valid) -> ReLU -> max-pool 2 -> hidden -> classes.

    No padding: normalize's fold into a convolution is exact only without zero padding."""
    side = (size - 2) // 2
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(channels * side * side, hidden),
        nn.ReLU(),
        nn.Linear(hidden, classes),
    )


def args_from_state(factory: str, state: dict, args: dict) -> dict:
    """The factory arguments that rebuild a (possibly widened) module from its state dict."""
    out = dict(args)
    if factory == "cnn":
        out["channels"] = int(state["0.weight"].shape[0])
        out["hidden"] = int(state["4.weight"].shape[0])
    elif out.get("depth", 1) == 1:
        out["hidden"] = int(state["0.weight"].shape[0])
    return out
