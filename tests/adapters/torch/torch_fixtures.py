"""Helpers for the torch adapter tests: digits bundles, a plain training loop and evaluation,
and a Lightning-layout checkpoint written without Lightning installed."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from plateau_cli.adapters.base import LoadOptions  # noqa: E402
from plateau_cli.adapters.sniff import sniff_checkpoint  # noqa: E402
from plateau_cli.adapters.torch.adapter import TorchAdapter  # noqa: E402
from plateau_cli.adapters.torch.handle import TorchHandle  # noqa: E402
from plateau_cli.data.base import ArraySplit, DataBundle  # noqa: E402

nn = torch.nn
NETS_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "torch" / "nets.py"
N_TRAIN, N_VAL = 320, 120


def factory(name: str) -> str:
    return f"{NETS_PATH}:{name}"


def _load_nets() -> ModuleType:
    spec = importlib.util.spec_from_file_location("plateau_test_torch_nets", NETS_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nets = _load_nets()


def flat_bundle(digits: tuple[np.ndarray, np.ndarray]) -> DataBundle:
    x, y = digits
    return DataBundle(
        ArraySplit(x[:N_TRAIN], y[:N_TRAIN]),
        ArraySplit(x[N_TRAIN : N_TRAIN + N_VAL], y[N_TRAIN : N_TRAIN + N_VAL]),
        "npz",
        "digits.npz",
    )


def image_bundle(digits: tuple[np.ndarray, np.ndarray], layout: str = "NHWC") -> DataBundle:
    """8x8 images as an image-folder reader lays them out (NHWC), or as NCHW arrays."""
    x, y = digits
    images = x.reshape(-1, 8, 8, 1) if layout == "NHWC" else x.reshape(-1, 1, 8, 8)
    return DataBundle(
        ArraySplit(images[:N_TRAIN], y[:N_TRAIN]),
        ArraySplit(images[N_TRAIN : N_TRAIN + N_VAL], y[N_TRAIN : N_TRAIN + N_VAL]),
        "image-folder" if layout == "NHWC" else "npz",
        "digits",
        image_layout="NHWC" if layout == "NHWC" else None,
    )


def train_plain(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    loss_fn: Callable[..., torch.Tensor] = nn.functional.cross_entropy,
) -> None:
    """The hand-written loop a user's own script runs."""
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(epochs):
        for start in range(0, len(xt), batch_size):
            optimizer.zero_grad()
            loss = loss_fn(model(xt[start : start + batch_size]), yt[start : start + batch_size])
            loss.backward()
            optimizer.step()


def evaluate_plain(model: nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over the whole split, computed independently."""
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x))
        target = torch.from_numpy(y)
        loss = nn.functional.cross_entropy(logits, target).item()
        accuracy = (logits.argmax(1) == target).double().mean().item()
    return loss, accuracy


def trained_mlp(digits: tuple[np.ndarray, np.ndarray], seed: int = 0, **kwargs: Any) -> Any:
    """An MLP and its Adam optimizer after one epoch on the training split."""
    torch.manual_seed(seed)
    model = nets.mlp(**kwargs)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = digits
    train_plain(model, optimizer, x[:N_TRAIN], y[:N_TRAIN])
    return model, optimizer


def lightning_checkpoint(
    model: nn.Module, optimizer: torch.optim.Optimizer, *, epoch: int, global_step: int
) -> dict[str, Any]:
    """What Lightning 2.x writes for a LightningModule holding the net as `self.model`."""
    return {
        "epoch": epoch,
        "global_step": global_step,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
        "loops": {
            "fit_loop": {
                "state_dict": {},
                "epoch_loop.state_dict": {"_batches_that_stepped": global_step},
                "epoch_progress": {
                    "total": {"ready": epoch + 1, "started": epoch + 1, "completed": epoch},
                    "current": {"ready": epoch + 1, "started": epoch + 1, "completed": epoch},
                },
            }
        },
        "callbacks": {
            "ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min'}": {
                "best_model_score": torch.tensor(0.71),
                "best_model_path": "/runs/epoch=2.ckpt",
            }
        },
        "optimizer_states": [optimizer.state_dict()],
        "lr_schedulers": [],
        "hparams_name": "kwargs",
        "hyper_parameters": {"hidden": 4, "lr": 0.01},
    }


def script(model: nn.Module) -> torch.jit.ScriptModule:
    """torch.jit.script without its deprecation warning (errors under -W error)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(model)


def save_script(model: nn.Module, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(script(model), str(path))


def load_script(path: Path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path))


def load(path: Path, **options: Any) -> TorchHandle:
    options.setdefault("device", "cpu")
    sniffed = sniff_checkpoint(path)
    handle = TorchAdapter().load(path, sniffed.format, LoadOptions(**options))
    assert isinstance(handle, TorchHandle)
    return handle


class Control:
    """An EpochControl that records what it saw and stops where told."""

    def __init__(self, stop_at_batch: tuple[int, int] | None = None, stop_after: int | None = None):
        self.stop_at_batch = stop_at_batch
        self.stop_after = stop_after
        self.begun: list[int] = []
        self.batches: list[tuple[int, int]] = []
        self.epochs: list[tuple[int, dict[str, float]]] = []

    def on_epoch_begin(self, epoch: int) -> None:
        self.begun.append(epoch)

    def on_batch_end(self, epoch: int, batch: int, logs: Mapping[str, float]) -> bool:
        self.batches.append((epoch, batch))
        assert np.isfinite(logs["loss"])
        return self.stop_at_batch == (epoch, batch)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        self.epochs.append((epoch, dict(logs)))
        return self.stop_after == epoch
