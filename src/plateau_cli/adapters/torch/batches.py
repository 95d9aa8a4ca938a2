"""Numpy arrays -> tensors -> batches, without a DataLoader.

For arrays already in memory, indexing a tensor with a slice of a seeded permutation is the
whole job of a DataLoader with `shuffle=True`, at a fraction of its per-batch cost (no worker
processes, no collate): the training loop then costs what a hand-written loop costs. The data
goes to the device once when it fits comfortably; otherwise each batch is gathered into pinned
(page-locked) host memory and copied to the GPU asynchronously as it is used.
A DataLoader (or Dataset) from a Python entry point passes through, with its batches moved to
the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from plateau_cli.adapters.torch.losses import FLOAT, INDEX, LossChoice
from plateau_cli.adapters.torch.outputs import split_batch, to_device
from plateau_cli.errors import DataMismatchError

#: Datasets up to this size live on the accelerator for the whole run.
_ON_DEVICE_BYTES = 2 << 30


@dataclass(frozen=True)
class InputLayout:
    """How arrays become model inputs: dtype, NHWC -> NCHW, the targets' trailing shape."""

    dtype: torch.dtype
    to_channels_first: bool
    integer_inputs: bool
    #: Per-sample output shape of the model, to shape float targets alike ((N,) -> (N, 1)).
    output_tail: tuple[int, ...] | None


class ArrayBatches:
    """Batches over tensors; shuffled with `generator` each pass when one is given."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        device: torch.device,
        generator: torch.Generator | None = None,
        drop_single: bool = False,
        copies: int = 1,
    ) -> None:
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.device = device
        self.generator = generator
        #: BatchNorm cannot train on a batch of one sample: drop such a trailing batch.
        self.drop_single = drop_single
        #: Passes over the data per iteration (augment's --copies), each with its own shuffle.
        self.copies = copies

    @property
    def samples(self) -> int:
        """Samples per iteration: every pass counted."""
        return int(self.x.shape[0]) * self.copies

    def __len__(self) -> int:
        full, rest = divmod(self.samples, self.batch_size)
        dropped = self.drop_single and rest == 1 and self.samples > 1
        return full + (1 if rest and not dropped else 0)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, size = self.samples, self.batch_size
        stop = n - 1 if self.drop_single and n % size == 1 and n > 1 else n
        move = self.x.device != self.device
        rows = int(self.x.shape[0])
        pin = move and self.device.type == "cuda" and self.x.device.type == "cpu"
        if self.generator is None and self.copies == 1:
            for start in range(0, stop, size):
                xb, yb = self.x[start : start + size], self.y[start : start + size]
                if pin:
                    xb, yb = _pinned(xb), _pinned(yb)
                yield (_to(xb, self.device), _to(yb, self.device)) if move else (xb, yb)
            return
        passes = [
            torch.randperm(rows, generator=self.generator)
            if self.generator is not None
            else torch.arange(rows)
            for _ in range(self.copies)
        ]
        order = torch.cat(passes)
        if not move and self.x.device.type != "cpu":
            order = order.to(self.x.device)
        for start in range(0, stop, size):
            index = order[start : start + size]
            if pin:
                xb, yb = _gathered_pinned(self.x, index), _gathered_pinned(self.y, index)
            else:
                xb, yb = self.x.index_select(0, index), self.y.index_select(0, index)
            yield (_to(xb, self.device), _to(yb, self.device)) if move else (xb, yb)


def skip_epochs(source: Any, epochs: int) -> bool:
    """Draw (and drop) the shuffles of `epochs` passes, so the next pass is the one an
    uninterrupted run would train on; False for a source whose order is not drawn here."""
    if not isinstance(source, ArrayBatches):
        return False
    if source.generator is not None:
        rows = int(source.x.shape[0])
        for _ in range(epochs * source.copies):
            torch.randperm(rows, generator=source.generator)
    return True


class LoaderBatches:
    """A user's DataLoader, moved to the device: (inputs, targets), (x, lengths, targets) or
    dict batches (see `outputs.split_batch`)."""

    def __init__(
        self,
        loader: Any,
        device: torch.device,
        what: str,
        targets: TargetFit | None = None,
        copies: int = 1,
    ) -> None:
        self.loader = loader
        self.device = device
        self.what = what
        self.targets = targets
        self.batch_size = getattr(loader, "batch_size", None)
        #: Passes over the loader per iteration (augment's --copies).
        self.copies = copies

    def __len__(self) -> int:
        return len(self.loader) * self.copies

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        for item in (item for _ in range(self.copies) for item in self.loader):
            inputs, target = split_batch(item, self.what)
            target = _to(target, self.device)
            if self.targets is not None and isinstance(target, torch.Tensor):
                target = self.targets(target)
            yield to_device(inputs, self.device), target


@dataclass(frozen=True)
class TargetFit:
    """A DataLoader's targets as the loss wants them: class indices as int64, float targets
    as floats shaped like the output ((B,) -> (B, 1)). Costs nothing when they already are."""

    loss: LossChoice
    dtype: torch.dtype
    output_tail: tuple[int, ...] | None

    def __call__(self, target: torch.Tensor) -> torch.Tensor:
        if self.loss.target == INDEX:
            if target.dim() == 2 and target.shape[1] == 1:
                target = target[:, 0]
            return target if target.dtype == torch.int64 else target.long()
        if target.dtype != self.dtype:
            target = target.to(self.dtype)
        tail = self.output_tail
        if self.loss.target == FLOAT and tail is not None and tuple(target.shape[1:]) != tail:
            per_sample = int(np.prod(tail)) if tail else 1
            if target.numel() == target.shape[0] * per_sample:
                target = target.reshape(target.shape[0], *tail)
        return target


def wrap_native(
    source: Any,
    batch_size: int,
    device: torch.device,
    generator: torch.Generator | None,
    what: str,
    targets: TargetFit | None = None,
    copies: int = 1,
) -> LoaderBatches:
    """A DataLoader passes through; a map-style Dataset gets a DataLoader of `batch_size`."""
    from torch.utils.data import DataLoader, Dataset

    if isinstance(source, Dataset) and not isinstance(source, torch.utils.data.IterableDataset):
        source = DataLoader(
            source, batch_size=batch_size, shuffle=generator is not None, generator=generator
        )
    if not hasattr(source, "__iter__"):
        raise DataMismatchError(
            f"the {what} data is a {type(source).__name__}; expected numpy arrays, a torch"
            " DataLoader or a Dataset"
        )
    return LoaderBatches(source, device, what, targets, copies)


def in_order(train: Any) -> Any:
    """The training batches without shuffling or dropping, for evaluating on them."""
    if isinstance(train, ArrayBatches):
        return ArrayBatches(train.x, train.y, train.batch_size, train.device)
    return train


def inputs_tensor(x: np.ndarray, layout: InputLayout) -> torch.Tensor:
    tensor = torch.from_numpy(np.ascontiguousarray(x))
    if layout.integer_inputs:
        return tensor.long()
    tensor = tensor.to(layout.dtype)
    if layout.to_channels_first and tensor.dim() == 4:
        tensor = tensor.permute(0, 3, 1, 2).contiguous()
    return tensor


def targets_tensor(y: np.ndarray, loss: LossChoice, layout: InputLayout) -> torch.Tensor:
    fit = TargetFit(loss, layout.dtype, layout.output_tail)
    return fit(torch.from_numpy(np.ascontiguousarray(y)))


def keep_on_device(device: torch.device, *tensors: torch.Tensor) -> bool:
    """Whether the whole dataset should be copied to `device` once."""
    if device.type == "cpu":
        return False
    size = sum(t.element_size() * t.numel() for t in tensors)
    return size <= _ON_DEVICE_BYTES


def _pinned(batch: torch.Tensor) -> torch.Tensor:
    """A page-locked copy of a host batch, so the copy to the GPU is truly asynchronous.

    From pageable memory a `non_blocking` copy waits for the host; from pinned memory it is a
    DMA the GPU runs while Python prepares the next batch. torch's caching host allocator
    reuses pinned blocks and keeps each one until its copy has finished.
    """
    out = torch.empty(batch.shape, dtype=batch.dtype, pin_memory=True)
    return out.copy_(batch)


def _gathered_pinned(source: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """`source[index]` gathered straight into pinned memory (one host copy, not two)."""
    out = torch.empty((len(index), *source.shape[1:]), dtype=source.dtype, pin_memory=True)
    return torch.index_select(source, 0, index, out=out)


def _to(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    return value
