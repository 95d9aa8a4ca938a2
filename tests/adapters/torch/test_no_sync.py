"""The torch loop under the real trainer reads device values per epoch, not per batch."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from plateau_cli.monitor import Monitor  # noqa: E402
from plateau_cli.run.interrupt import InterruptGuard  # noqa: E402
from plateau_cli.run.trainer import StopReason, Trainer  # noqa: E402
from plateau_cli.strategies import build_strategy  # noqa: E402
from tests.adapters.torch.torch_fixtures import (  # noqa: E402
    factory,
    flat_bundle,
    load,
    trained_mlp,
)

pytestmark = pytest.mark.torch


@pytest.fixture
def mlp_file(tmp_path, digits):
    model, optimizer = trained_mlp(digits)
    path = tmp_path / "ckpt.pt"
    torch.save({"model_state_dict": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    return path


def _count_syncs(monkeypatch) -> list[str]:
    """Every `.item()`, `float(t)` and `bool(t)` on a tensor made outside torch itself: each is
    a device read. (torch's Adam reads its step counter, a CPU tensor, with `.item()` in any
    loop, a plain one included: not ours, and no device synchronisation.)"""
    calls: list[str] = []
    torch_dir = str(Path(torch.__file__).parent)
    for name in ("item", "__float__", "__bool__", "tolist"):
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _original=original, _name=name):
            caller = sys._getframe(1).f_code.co_filename
            if not caller.startswith(torch_dir):
                calls.append(f"{_name} from {caller}:{sys._getframe(1).f_lineno}")
            return _original(self, *args)

        monkeypatch.setattr(torch.Tensor, name, counting)
    return calls


def test_training_reads_the_device_per_epoch_not_per_batch(mlp_file, digits, monkeypatch):
    handle = load(mlp_file, model_factory=factory("mlp"))
    prepared = handle.prepare(flat_bundle(digits), 2, seed=0)
    assert handle.steps_per_epoch(prepared) >= 100
    trainer = Trainer(
        handle,
        build_strategy("lr-decay", {}),
        Monitor.for_metric("val_loss"),
        patience=None,
        guard=InterruptGuard(),
        clock=lambda: 0.0,  # time stands still: no mid-epoch read is due
    )
    calls = _count_syncs(monkeypatch)
    state = trainer.run(prepared, 2)
    assert state.stop_reason is StopReason.COMPLETED
    # Per epoch: the epoch's loss and accuracy, validation loss and accuracy, the learning
    # rate: a handful of reads, whatever the number of batches.
    assert len(calls) <= 2 * 8, calls
