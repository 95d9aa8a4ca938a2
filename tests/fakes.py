"""A numpy softmax-regression `ModelHandle`, so the core's decisions test without a framework.

It trains for real (mini-batch SGD with momentum on a linear model), so early stopping,
restore-best, schedules and the report see genuine learning curves; `poison_at` makes the loss
non-finite on a chosen epoch to exercise the NaN guard.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plateau_cli.adapters.base import (
    EpochControl,
    IOSpec,
    LayerInfo,
    ModelDescription,
    ModelHandle,
    OptimizerInfo,
    OptimizerState,
)
from plateau_cli.atomic import atomic_path
from plateau_cli.data.base import ArraySplit, DataBundle, Task


@dataclass
class Prepared:
    train: ArraySplit
    val: ArraySplit
    batch_size: int
    rng: np.random.Generator


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class NumpyHandle(ModelHandle):
    framework = "numpy"

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        lr: float = 0.1,
        momentum: float = 0.9,
        seed: int = 0,
        path: Path | None = None,
    ) -> None:
        super().__init__(path or Path("model.npz"), "numpy-npz")
        rng = np.random.default_rng(seed)
        self.w = rng.normal(0, 0.01, (n_features, n_classes))
        self.b = np.zeros(n_classes)
        self.vw = np.zeros_like(self.w)
        self.vb = np.zeros_like(self.b)
        self.lr = lr
        self.momentum = momentum
        self.steps = 0
        self.poison_at: int | None = None
        self.fit_calls: list[tuple[int, int]] = []

    def describe(self) -> ModelDescription:
        n = self.w.size + self.b.size
        return ModelDescription(
            framework=self.framework,
            format=self.format,
            path=self.path,
            layers=(LayerInfo("dense", "Linear", str(self.w.shape[1]), n, n),),
            trainable_params=n,
            frozen_params=0,
            optimizer=OptimizerInfo("SGD", self.lr, OptimizerState.RESTORED, self.steps),
            loss="cross-entropy",
            metrics=("accuracy",),
            input_shape=(self.w.shape[0],),
            output_shape=(self.w.shape[1],),
        )

    def io_spec(self) -> IOSpec:
        return IOSpec((self.w.shape[0],), self.w.shape[1], "softmax", Task.CLASSIFICATION)

    def check_data(self, data: DataBundle) -> None:
        from plateau_cli.data import check_fit

        check_fit(data, self.io_spec())

    def prepare(self, data: DataBundle, batch_size: int, seed: int) -> Prepared:
        return Prepared(data.train, data.val, batch_size, np.random.default_rng(seed))

    def steps_per_epoch(self, prepared: Prepared) -> int:
        return -(-len(prepared.train) // prepared.batch_size)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        return _softmax(x @ self.w + self.b)

    def evaluate(self, prepared: Prepared, split: str = "val") -> dict[str, float]:
        data = prepared.val if split == "val" else prepared.train
        p = self._forward(data.x)
        loss = float(-np.mean(np.log(p[np.arange(len(data.y)), data.y] + 1e-12)))
        return {"loss": loss, "accuracy": float(np.mean(p.argmax(1) == data.y))}

    def fit(self, prepared: Prepared, first_epoch: int, epochs: int, control: EpochControl) -> None:
        self.fit_calls.append((first_epoch, epochs))
        for epoch in range(first_epoch, first_epoch + epochs):
            control.on_epoch_begin(epoch)
            order = prepared.rng.permutation(len(prepared.train))
            losses: list[float] = []
            stop = False
            for batch, start in enumerate(range(0, len(order), prepared.batch_size), 1):
                idx = order[start : start + prepared.batch_size]
                x, y = prepared.train.x[idx], prepared.train.y[idx]
                if self.train_transform is not None:
                    x, y = self.train_transform(x, y)
                p = self._forward(x)
                losses.append(float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-12))))
                if self.poison_at == epoch:
                    losses[-1] = float("nan")
                    self.w[:] = np.nan
                grad = p
                grad[np.arange(len(y)), y] -= 1
                grad /= len(y)
                self.vw = self.momentum * self.vw - self.lr * (x.T @ grad)
                self.vb = self.momentum * self.vb - self.lr * grad.sum(0)
                self.w += self.vw
                self.b += self.vb
                self.steps += 1
                if control.on_batch_end(epoch, batch, {"loss": float(np.mean(losses))}):
                    stop = True
                    break
            train = {"loss": float(np.mean(losses))}
            val = self.evaluate(prepared, "val")
            logs = {**train, **{f"val_{k}": v for k, v in val.items()}}
            if control.on_epoch_end(epoch, logs) or stop:
                return

    def learning_rate(self) -> float:
        return self.lr

    def set_learning_rate(self, lr: float) -> str | None:
        self.lr = lr
        return None

    def snapshot(self) -> Any:
        return (self.w.copy(), self.b.copy())

    def restore(self, snapshot: Any) -> None:
        self.w, self.b = snapshot[0].copy(), snapshot[1].copy()

    def checkpoint_name(self) -> str:
        return "model.npz"

    def save(self, path: Path, *, epochs_done: int) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, w=self.w, b=self.b, steps=self.steps, epochs_done=epochs_done)
        with atomic_path(path) as tmp:
            tmp.write_bytes(buffer.getvalue())


def blobs(n: int = 400, n_features: int = 8, n_classes: int = 3, seed: int = 0) -> DataBundle:
    """Separable-ish Gaussian blobs: learnable, with a floor of irreducible error."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1.5, (n_classes, n_features))
    y = rng.integers(0, n_classes, n)
    x = (centers[y] + rng.normal(0, 1.0, (n, n_features))).astype(np.float32)
    cut = int(n * 0.75)
    return DataBundle(
        ArraySplit(x[:cut], y[:cut]), ArraySplit(x[cut:], y[cut:]), "npz", "blobs.npz"
    )
