"""LightningModules as users write them, one with `save_hyperparameters()` and one without,
on the digits data (scikit-learn, no download). Imported by path as `--model-factory FILE:Name`
and `--data FILE:loaders`, so nothing here imports from the test package."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch  # noqa: TID253
from torch import nn  # noqa: TID253
from torch.utils.data import DataLoader, TensorDataset  # noqa: TID253


class WithHyperparameters(L.LightningModule):
    def __init__(self, hidden: int = 8, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, index: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch: Any, index: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.cross_entropy(self(x), y))

    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class WithoutHyperparameters(L.LightningModule):
    """Constructor arguments not recorded: load_from_checkpoint needs them passed again."""

    def __init__(self, hidden: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    forward = WithHyperparameters.forward
    training_step = WithHyperparameters.training_step
    validation_step = WithHyperparameters.validation_step

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)


def loaders(batch_size: int = 32) -> tuple[DataLoader, DataLoader]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    train = TensorDataset(x[:320], y[:320])
    val = TensorDataset(x[320:480], y[320:480])
    generator = torch.Generator().manual_seed(0)
    return (
        DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator),
        DataLoader(val, batch_size=batch_size),
    )


def evaluate(model: nn.Module) -> tuple[float, float]:
    _, val = loaders()
    model.eval()
    total, hits, count = 0.0, 0, 0
    with torch.no_grad():
        for x, y in val:
            logits = model(x)
            total += float(nn.functional.cross_entropy(logits, y, reduction="sum"))
            hits += int((logits.argmax(1) == y).sum())
            count += len(y)
    return total / count, hits / count
