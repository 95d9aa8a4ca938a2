"""Host batches bound for a CUDA device are gathered into pinned memory (checked without a GPU:
the allocation is recorded and the copy to the device left out)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from plateau_cli.adapters.torch import batches  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture
def fake_cuda(monkeypatch):
    pinned: list[tuple[int, ...]] = []
    real_empty = torch.empty

    def empty(*shape, pin_memory=False, **kwargs):
        if pin_memory:
            pinned.append(tuple(shape[0]))
        return real_empty(*shape, **kwargs)

    monkeypatch.setattr(batches.torch, "empty", empty)
    moved: list[tuple[torch.Tensor, torch.device]] = []
    monkeypatch.setattr(batches, "_to", lambda value, device: moved.append(device) or value)
    return pinned, moved


@pytest.mark.parametrize("shuffled", [False, True])
def test_cuda_bound_batches_are_pinned_and_hold_the_same_rows(fake_cuda, shuffled):
    pinned, moved = fake_cuda
    x = torch.arange(50 * 3, dtype=torch.float32).reshape(50, 3)
    y = torch.arange(50)
    generator = torch.Generator().manual_seed(0) if shuffled else None
    data = batches.ArrayBatches(x, y, 16, torch.device("cuda"), generator)
    seen = list(data)
    assert [len(xb) for xb, _ in seen] == [16, 16, 16, 2]
    assert len(pinned) == 2 * len(seen)  # features and targets of every batch
    assert pinned[0] == (16, 3)
    assert all(device.type == "cuda" for device in moved)
    rows = torch.cat([yb for _, yb in seen])
    assert sorted(rows.tolist()) == list(range(50))
    for xb, yb in seen:
        assert torch.equal(xb, x[yb])  # features and targets stay paired


def test_cpu_batches_are_not_pinned(fake_cuda):
    pinned, _ = fake_cuda
    data = batches.ArrayBatches(torch.zeros(10, 2), torch.zeros(10), 4, torch.device("cpu"))
    assert len(list(data)) == 3
    assert pinned == []
