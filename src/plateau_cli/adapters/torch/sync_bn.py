"""`--sync-batchnorm`: BatchNorm with the whole global batch's statistics under torchrun.

Under DDP each process normalises with the mean and variance of its own share of the batch:
with N processes a BatchNorm sees batches N times smaller than in one process, so the numbers
differ from a one-process run and small shares give noisy statistics. `SyncBatchNorm` computes
them over every process's share (an all-reduce per layer and step), as one process would.

The BatchNorm layers become `SyncBatchNorm` for training only, before DDP wraps the module,
and become their own class again as soon as training stops, so the saved checkpoint is a
plain BatchNorm model, loadable as if it had trained in one process. The state-dict keys are
the same in both classes (weight, bias, running_mean, running_var, num_batches_tracked).

The change is made by switching the layer's class in place, as
`torch.nn.utils.parametrize` does, rather than with `SyncBatchNorm.convert_sync_batchnorm`,
which builds new layer objects: the optimizer, a strategy's list of BatchNorms kept in
inference mode (unfreeze), hooks and snapshots then keep pointing at the layers that train.
The attributes are those `convert_sync_batchnorm` copies; a `SyncBatchNorm` adds only its
`process_group` (None: every process).

torch 2.13 runs `SyncBatchNorm` on CUDA (NCCL) only: on the CPU (Gloo) its forward raises
"SyncBatchNorm expected input tensor to be on GPU", so the adapter refuses the option there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

_ORIGINAL = "_plateau_plain_class"


def batch_norms(model: nn.Module) -> list[nn.Module]:
    """The BatchNorm layers SyncBatchNorm can stand in for (1d, 2d, 3d; not lazy ones)."""
    return [
        m
        for m in model.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        and not isinstance(m, nn.modules.lazy.LazyModuleMixin)
    ]


def to_sync(model: nn.Module) -> int:
    """Every BatchNorm of `model` trains as a SyncBatchNorm; returns how many."""
    count = 0
    for module in batch_norms(model):
        if isinstance(module, nn.SyncBatchNorm):
            continue
        setattr(module, _ORIGINAL, type(module))
        module.process_group = None  # type: ignore[assignment]
        module.__class__ = nn.SyncBatchNorm
        count += 1
    return count


def to_plain(model: nn.Module) -> None:
    """Every layer `to_sync` changed is its own BatchNorm class again."""
    for module in model.modules():
        original = module.__dict__.pop(_ORIGINAL, None)
        if original is None:
            continue
        module.__class__ = original
        module.__dict__.pop("process_group", None)


@contextlib.contextmanager
def synchronised(model: nn.Module, enabled: bool) -> Iterator[None]:
    """SyncBatchNorm for the block (training), plain BatchNorm again after it, whatever happens."""
    if not enabled:
        yield
        return
    to_sync(model)
    try:
        yield
    finally:
        to_plain(model)


def runs_here(device: torch.device) -> bool:
    """Whether torch's SyncBatchNorm can synchronise on this device (see the module docstring)."""
    return device.type == "cuda"
