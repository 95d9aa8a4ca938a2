"""Evaluate and train: the loop a careful person would write by hand, and no slower.

Per batch the loop does forward, loss, backward, step and hands the core a view of the running
metrics. Reading a tensor's value (`.item()`) waits for the accelerator, so the running loss and
accuracy stay tensors on the device, summed there (`RunningLogs`), and are read only when
someone reads them: the core's trainer does so a few times a second and at the end of the
epoch, never per batch.

Modules a strategy keeps in inference mode (BatchNorm of an unfrozen base, as Lightning's
`BaseFinetuning` does with `train_bn=False`) are put back in eval mode after every
`model.train()`, so their running statistics stay those of the original training.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from plateau_cli.adapters.base import EpochControl
from plateau_cli.adapters.torch.losses import ARGMAX, LOGIT, PROBABILITIES
from plateau_cli.adapters.torch.outputs import ModelCall
from plateau_cli.errors import DataMismatchError, ResourceError


@dataclass(frozen=True)
class Objective:
    """The loss module and how to count correct predictions (None: no accuracy)."""

    loss_fn: torch.nn.Module
    accuracy: str | None
    target: str
    #: How the model is called on a batch and its predictions and own loss read (outputs.py).
    call: ModelCall = field(default_factory=ModelCall)

    def run(self, model: torch.nn.Module, inputs: Any, target: Any) -> tuple[Any, torch.Tensor]:
        """The batch's loss (the model's own when it returns one) and its predictions."""
        output = self.call(model, inputs)
        predictions = self.call.predictions(output)
        own = self.call.own_loss(output)
        return (own if own is not None else self.loss_fn(predictions, target)), predictions

    def prediction(self, output: torch.Tensor) -> torch.Tensor:
        """The least that must be kept of a batch's output to count its hits later."""
        return output.argmax(1) if self.accuracy == ARGMAX else output

    def hits(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """How many predictions are right, as a 0-d tensor (no synchronisation)."""
        if self.accuracy == ARGMAX:
            # Float targets are class probabilities: the loss's own (PROBABILITIES), or soft
            # training targets built from integer labels (augment's mixup).
            soft = self.target == PROBABILITIES or target.is_floating_point()
            truth = target.argmax(1) if soft else target
            return (prediction == truth).sum()
        threshold = 0.0 if self.accuracy == LOGIT else 0.5  # PROBABILITY: a sigmoid output
        return ((prediction > threshold) == (target > 0.5)).sum()

    def correct(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.hits(self.prediction(output), target)


#: Batch outputs kept before their hits are counted (all at once, still without a sync).
_PENDING_BATCHES = 64
_PENDING_VALUES = 1 << 22


class RunningLogs(Mapping[str, float]):
    """The epoch's running `loss` (mean over its batches) and `accuracy`, read lazily.

    Per batch the loop only appends the detached loss and output: no kernel runs for the
    metrics. Every 64 batches the losses are summed into one device tensor and the hits counted
    (at most 4M output values held), still without a synchronisation; a value is read from the
    device only when someone reads it.
    """

    def __init__(self, objective: Objective) -> None:
        self._objective = objective
        self._losses: list[torch.Tensor] = []
        self._outputs: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []
        self._pending_values = 0
        self._hits: torch.Tensor | None = None
        self._loss_total: torch.Tensor | None = None
        self._samples = 0
        self._batches_summed = 0
        self._keys = ("loss", "accuracy") if objective.accuracy is not None else ("loss",)

    def add(self, loss: torch.Tensor, output: torch.Tensor, target: torch.Tensor) -> None:
        self._losses.append(loss)
        if len(self._losses) >= _PENDING_BATCHES:
            self._sum_losses()
        if self._objective.accuracy is not None:
            self._outputs.append(output)
            self._targets.append(target)
            self._pending_values += output.numel()
            if len(self._outputs) >= _PENDING_BATCHES or self._pending_values >= _PENDING_VALUES:
                self._count_hits()
        self._samples += len(target)

    def _count_hits(self) -> None:
        if self._outputs:
            hits = self._objective.correct(_joined(self._outputs), _joined(self._targets))
            self._hits = hits if self._hits is None else self._hits + hits
            self._outputs.clear()
            self._targets.clear()
            self._pending_values = 0

    def _sum_losses(self) -> None:
        """Pending batch losses -> one device tensor (float64, so long epochs lose nothing)."""
        if self._losses:
            total = _joined_sum(self._losses)
            self._loss_total = total if self._loss_total is None else self._loss_total + total
            self._batches_summed += len(self._losses)
            self._losses.clear()

    @property
    def batches(self) -> int:
        return self._batches_summed + len(self._losses)

    def __getitem__(self, key: str) -> float:
        """Only the value asked for is read from the device (a NaN guard reads just `loss`)."""
        if key == "loss":
            self._sum_losses()
            if self._loss_total is None or not self._batches_summed:
                return float("nan")
            return float(self._loss_total.item()) / self._batches_summed
        if key == "accuracy" and key in self._keys:
            self._count_hits()
            if self._hits is None or not self._samples:
                return float("nan")
            return float(self._hits.item()) / self._samples
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self._keys  # without reading the value (Mapping's default would)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def _joined_sum(values: list[torch.Tensor]) -> torch.Tensor:
    """The sum of 0-d tensors as one 0-d float64 tensor on their device (no synchronisation)."""
    dtype = torch.float32 if values[0].device.type == "mps" else torch.float64  # MPS: no f64
    if len(values) == 1:
        return values[0].to(dtype)
    return torch.stack(values).to(dtype).sum()


def _joined(values: list[torch.Tensor]) -> torch.Tensor:
    return values[0] if len(values) == 1 else torch.cat(values)


def set_train_mode(model: torch.nn.Module, keep_eval: Iterable[torch.nn.Module]) -> None:
    model.train()
    for module in keep_eval:
        module.eval()


def evaluate(model: torch.nn.Module, batches: Iterable[Any], objective: Objective) -> dict:
    """Mean loss weighted by batch size, and accuracy, in eval mode without gradients."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    total: torch.Tensor | None = None
    correct: torch.Tensor | None = None
    samples = 0
    try:
        with torch.no_grad(), _out_of_memory_guard(batches):
            for xb, yb in batches:
                loss, output = objective.run(model, xb, yb)
                size = int(yb.shape[0])
                loss = loss.double() * size
                total = loss if total is None else total + loss
                if objective.accuracy is not None:
                    hits = objective.correct(output, yb)
                    correct = hits if correct is None else correct + hits
                samples += size
    finally:
        for module, training in modes.items():
            module.training = training
    if samples == 0 or total is None:
        raise DataMismatchError("the data to evaluate on is empty: no batches came out of it")
    metrics = {"loss": float(total.item()) / samples}
    if correct is not None:
        metrics["accuracy"] = float(correct.item()) / samples
    return metrics


def train_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[Any],
    objective: Objective,
    *,
    epoch: int,
    control: EpochControl,
    transform: Any = None,
) -> tuple[RunningLogs, bool]:
    """One pass over the training batches; returns the running logs and whether to stop."""
    logs = RunningLogs(objective)
    with _out_of_memory_guard(batches):
        for batch, pair in enumerate(batches, start=1):
            xb, yb = transform(*pair) if transform is not None else pair
            optimizer.zero_grad(set_to_none=True)
            loss, output = objective.run(model, xb, yb)
            loss.backward()
            optimizer.step()
            logs.add(loss.detach(), output.detach(), yb)
            if control.on_batch_end(epoch, batch, logs):
                return logs, True
    return logs, False


@contextlib.contextmanager
def _out_of_memory_guard(batches: Any) -> Iterator[None]:
    """CUDA/MPS out-of-memory becomes a ResourceError that suggests a smaller --batch-size."""
    try:
        yield
    except RuntimeError as exc:  # torch.OutOfMemoryError is a RuntimeError
        if not _is_out_of_memory(exc):
            raise
        size = getattr(batches, "batch_size", None)
        hint = f"try --batch-size {max(1, size // 2)}" if size else "try a smaller --batch-size"
        raise ResourceError(
            f"the device ran out of memory ({str(exc).splitlines()[0]}); {hint}"
        ) from exc


def _is_out_of_memory(exc: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    return isinstance(exc, oom) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )
