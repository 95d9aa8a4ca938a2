"""Data-parallel training under torchrun: process group, DDP wrapper, sharded batches, averages.

Every rank loads the same checkpoint, seeds the same generators and applies the same strategy,
so the module each rank wraps is the same; `DistributedDataParallel` then also broadcasts rank
0's parameters and buffers when it wraps. The module is wrapped only for training, after the
strategy changed it, and wrapped again when a strategy changes which parameters train
(gradual unfreezing): the handle's own module, its optimizer, snapshots and the saved file
never see the wrapper, so the checkpoint has no `module.` prefix.

--batch-size is the global batch. Array data: every rank draws the same seeded permutation as
a one-process run and takes its contiguous share of each global batch (what a
`DistributedSampler` does, without its padding). Each rank's mean loss is scaled by its share
of the batch, so the averaged gradient, and the averaged loss, are those of the whole batch:
with a mean-reduced loss and no batch-norm the run equals a one-process run. A user's
DataLoader is rebuilt with a `DistributedSampler` and batch_size // world_size.

Metrics are averaged over the ranks (weighted by samples), so every rank sees the same numbers
and makes the same early-stopping decision; a stop that one rank sees (SIGTERM, NaN) is agreed
by all after the batch, so no rank waits for a peer that has left the loop.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from plateau_cli.adapters.base import EpochControl
from plateau_cli.adapters.torch import batches
from plateau_cli.adapters.torch.batches import ArrayBatches, LoaderBatches
from plateau_cli.adapters.torch.training import Objective
from plateau_cli.errors import UsageError
from plateau_cli.run.distributed import DistributedError, Launch, check_global_batch, detect

#: How long a collective waits for a rank before the job fails (a dead peer usually fails
#: faster: Gloo and NCCL see the closed connection).
_TIMEOUT = datetime.timedelta(minutes=10)


@dataclass(frozen=True)
class DdpContext:
    launch: Launch
    device: torch.device
    backend: str

    @property
    def rank(self) -> int:
        return self.launch.rank

    @property
    def world_size(self) -> int:
        return self.launch.world_size

    def note(self) -> str:
        return (
            f"data-parallel on {self.world_size} processes ({self.backend}): --batch-size is the"
            " global batch, split across them; a DataLoader from --data is rebuilt with a"
            " DistributedSampler; only rank 0 writes"
        )


def join(device: torch.device) -> tuple[torch.device, DdpContext | None]:
    """Form the process group when torchrun started us; the device this rank trains on."""
    launch = detect()
    if launch is None:
        return device, None
    if device.type == "mps":
        raise UsageError("--device mps runs in one process; start plateau-cli without torchrun")
    if device.type == "cuda":
        if device.index is None:
            if launch.local_rank >= torch.cuda.device_count():
                raise DistributedError(
                    f"LOCAL_RANK {launch.local_rank} has no GPU: only"
                    f" {torch.cuda.device_count()} visible; use --nproc_per_node"
                    f" {torch.cuda.device_count()}"
                )
            device = torch.device("cuda", launch.local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        try:
            dist.init_process_group(
                backend, rank=launch.rank, world_size=launch.world_size, timeout=_TIMEOUT
            )
        except (RuntimeError, ValueError) as exc:
            raise DistributedError(
                f"could not join the process group at {launch.master}: {_first_line(exc)}"
            ) from exc
        atexit.register(_leave)
    return device, DdpContext(launch, device, backend)


def _leave() -> None:
    with contextlib.suppress(Exception):
        if dist.is_initialized():
            dist.destroy_process_group()


@contextlib.contextmanager
def collective_errors() -> Iterator[None]:
    """A peer that died surfaces in a collective; say so in one line (exit 2)."""
    try:
        yield
    except DistributedError:
        raise
    except RuntimeError as exc:
        backend_error = getattr(dist, "DistBackendError", ())
        if not (isinstance(exc, backend_error) or _looks_like_peer_loss(exc)):
            raise
        raise DistributedError(
            "another process of this torchrun job stopped or lost its connection (its own"
            " output or torchrun's summary says why); nothing was written"
        ) from exc


def _looks_like_peer_loss(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(
        w in text for w in ("connection", "gloo", "nccl", "timed out", "peer", "broken pipe")
    )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


# -- batches --------------------------------------------------------------------------------
class ShardedBatches:
    """This rank's share of every global batch of an `ArrayBatches`, in a one-process order."""

    def __init__(self, whole: ArrayBatches, ctx: DdpContext) -> None:
        self.whole = whole
        self.ctx = ctx
        self.batch_size = whole.batch_size
        #: This rank's share of the current batch times world_size (1.0 for equal shares).
        self.scale = 1.0
        #: Samples this rank saw in the last full pass (weights its averages).
        self.local_samples = 0

    def __len__(self) -> int:
        return sum(1 for size in self._sizes() if size >= self.ctx.world_size)

    def _sizes(self) -> Iterator[int]:
        n, size = self.whole.samples, self.whole.batch_size
        full, rest = divmod(n, size)
        yield from [size] * full
        if rest and not (self.whole.drop_single and rest == 1 and n > 1):
            yield rest

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        world, rank = self.ctx.world_size, self.ctx.rank
        self.local_samples = 0
        for xb, yb in self.whole:
            total = int(yb.shape[0])
            if total < world:
                continue  # a trailing batch too small to give every rank a sample
            xs, ys = torch.tensor_split(xb, world)[rank], torch.tensor_split(yb, world)[rank]
            self.scale = int(ys.shape[0]) * world / total
            self.local_samples += int(ys.shape[0])
            yield xs, ys
        self.scale = 1.0


class ShardedLoader:
    """A user's DataLoader rebuilt with a `DistributedSampler`; reshuffled per epoch."""

    def __init__(self, batches: LoaderBatches, ctx: DdpContext, seed: int) -> None:
        from torch.utils.data import DataLoader, IterableDataset, RandomSampler
        from torch.utils.data.distributed import DistributedSampler

        loader = batches.loader
        dataset = getattr(loader, "dataset", None)
        if dataset is None or isinstance(dataset, IterableDataset):
            raise UsageError(
                "--data gives an iterable DataLoader; under torchrun it must be a map-style"
                " Dataset or a DataLoader over one, so each process can take its share"
            )
        global_batch = getattr(loader, "batch_size", None) or 1
        shuffle = isinstance(getattr(loader, "sampler", None), RandomSampler)
        self.sampler = DistributedSampler(
            dataset, ctx.world_size, ctx.rank, shuffle=shuffle, seed=seed, drop_last=False
        )
        rebuilt = DataLoader(
            dataset,
            batch_size=max(1, global_batch // ctx.world_size),
            sampler=self.sampler,
            num_workers=loader.num_workers,
            collate_fn=loader.collate_fn,
            pin_memory=loader.pin_memory,
            drop_last=loader.drop_last,
        )
        self.inner = LoaderBatches(
            rebuilt, batches.device, batches.what, batches.targets, batches.copies
        )
        self.batch_size = global_batch
        self.scale = 1.0
        self.local_samples = 0
        self._epoch = 0
        #: False for an evaluation pass, which must not move the per-epoch shuffle on.
        self.counts_epochs = True

    def __len__(self) -> int:
        return len(self.inner)

    def skip(self, epochs: int) -> None:
        """Go on at epoch `epochs` of the sampler's per-epoch shuffle (`--continue`)."""
        self._epoch = epochs

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        self.sampler.set_epoch(self._epoch)
        self._epoch += 1 if self.counts_epochs else 0
        self.local_samples = 0
        for inputs, target in self.inner:
            self.local_samples += len(target)
            yield inputs, target


def shard(source: Any, ctx: DdpContext | None, seed: int) -> Any:
    """Training or validation batches as this rank sees them (unchanged in one process)."""
    if ctx is None:
        return source
    check_global_batch(int(getattr(source, "batch_size", None) or ctx.world_size), ctx.launch)
    if isinstance(source, ArrayBatches):
        return ShardedBatches(source, ctx)
    if isinstance(source, LoaderBatches):
        return ShardedLoader(source, ctx, seed)
    return source


def skip_epochs(source: Any, epochs: int) -> bool:
    """Move the training order on by `epochs` passes, as if they had been trained; False where
    the order is not ours to replay (a user's DataLoader in one process)."""
    if isinstance(source, ShardedBatches):
        source = source.whole
    if isinstance(source, ShardedLoader):
        source.skip(epochs)
        return True
    return batches.skip_epochs(source, epochs)


def in_order(source: Any) -> Any:
    """`batches.in_order` for this rank: its share of the unshuffled batches. A fresh
    ArrayBatches draws nothing from the training generator, as in one process."""
    if isinstance(source, ShardedBatches):
        return ShardedBatches(batches.in_order(source.whole), source.ctx)
    if isinstance(source, ShardedLoader):  # training epoch k keeps the sampler's epoch k - 1
        view = copy.copy(source)
        view.counts_epochs = False
        return view
    return batches.in_order(source)


def whole(source: Any) -> Any:
    """Every sample, for decisions every rank must make alike (which units are dead)."""
    return source.whole if isinstance(source, ShardedBatches) else source


# -- the objective and the module ---------------------------------------------------------
@dataclass(frozen=True)
class ShareScaledObjective(Objective):
    """The rank's mean loss times its share of the global batch: averaged by DDP, the
    gradient is the whole batch's."""

    source: Any = None

    def run(self, model: torch.nn.Module, inputs: Any, target: Any) -> tuple[Any, torch.Tensor]:
        loss, predictions = super().run(model, inputs, target)
        scale = getattr(self.source, "scale", 1.0)
        return (loss * scale if scale != 1.0 else loss), predictions


def objective_for(objective: Objective, source: Any, ctx: DdpContext | None) -> Objective:
    if ctx is None:
        return objective
    return ShareScaledObjective(
        objective.loss_fn, objective.accuracy, objective.target, objective.call, source
    )


class Wrapper:
    """The DDP wrapper of a handle's module, rebuilt when the trainable parameters change."""

    def __init__(self, ctx: DdpContext | None) -> None:
        self.ctx = ctx
        self._key: tuple[int, ...] | None = None
        self._wrapped: torch.nn.Module | None = None

    def __call__(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.ctx is None:
            return model
        trainable = tuple(id(p) for p in model.parameters() if p.requires_grad)
        key = (id(model), *trainable)
        if self._wrapped is None or key != self._key:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
            with collective_errors():
                self._wrapped = DistributedDataParallel(model, device_ids=ids)
            self._key = key
        return self._wrapped


# -- agreeing on numbers and on stopping ----------------------------------------------------
def mean_over_ranks(
    metrics: Mapping[str, float],
    samples: int,
    ctx: DdpContext | None,
    per_batch: tuple[str, ...] = (),
) -> dict[str, float]:
    """Metrics averaged over the ranks, weighted by each rank's samples; `per_batch` names
    (a training loss that is already a mean of share-scaled batch losses) average plainly."""
    if ctx is None:
        return dict(metrics)
    keys = sorted(metrics)
    values = [float(metrics[k]) * (1.0 if k in per_batch else samples) for k in keys] + [
        float(samples)
    ]
    tensor = torch.tensor(values, dtype=torch.float64, device=_comm_device(ctx))
    with collective_errors():
        dist.all_reduce(tensor)
    total = float(tensor[-1])
    out = {}
    for i, key in enumerate(keys):
        summed = float(tensor[i])
        out[key] = summed / ctx.world_size if key in per_batch else summed / max(total, 1.0)
    return out


def any_rank(flag: bool, ctx: DdpContext) -> bool:
    tensor = torch.tensor([1 if flag else 0], dtype=torch.int32, device=_comm_device(ctx))
    with collective_errors():
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def _comm_device(ctx: DdpContext) -> torch.device:
    return ctx.device if ctx.backend == "nccl" else torch.device("cpu")


class SyncedControl(EpochControl):
    """The trainer, with every stop agreed by all ranks (a stop one rank sees becomes the
    interrupt request of the others: SIGTERM reaches the ranks at different batches)."""

    def __init__(self, control: EpochControl, ctx: DdpContext) -> None:
        self.control = control
        self.ctx = ctx

    def on_epoch_begin(self, epoch: int) -> None:
        self.control.on_epoch_begin(epoch)

    def on_batch_end(self, epoch: int, batch: int, logs: Mapping[str, float]) -> bool:
        stop = self.control.on_batch_end(epoch, batch, logs)
        if any_rank(stop, self.ctx) and not stop:
            return self._stop_too(epoch, batch, logs)
        return stop

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        guard = getattr(self.control, "guard", None)
        if guard is not None and any_rank(guard.requested, self.ctx) and not guard.requested:
            guard.request("SIGTERM on another rank")
        return self.control.on_epoch_end(epoch, logs)

    def _stop_too(self, epoch: int, batch: int, logs: Mapping[str, float]) -> bool:
        guard = getattr(self.control, "guard", None)
        if guard is not None:
            guard.request("a stop on another rank")
            self.control.on_batch_end(epoch, batch, logs)
        return True


def synced(control: EpochControl, ctx: DdpContext | None) -> EpochControl:
    return control if ctx is None else SyncedControl(control, ctx)
