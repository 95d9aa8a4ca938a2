"""Which batch size a resume trains at, and saying where it came from.

The rules (the option, the run's recorded size, an estimate from the step count) live in
run/batch_size.py; this module gathers what a run knows for them (the checkpoint, the log, a
user's DataLoader) and batches the data with the result.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from plateau_cli.adapters.base import ModelDescription, ModelHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.observer import Level, Observer
from plateau_cli.run.batch_size import (
    DEFAULT_BATCH_SIZE,
    OPTION,
    BatchSize,
    loader_batch_size,
    trainer_state_beside,
)
from plateau_cli.run.batch_size import resolve as resolve_batch_size

if TYPE_CHECKING:
    from plateau_cli.run.resume import ResumeRequest


def choose_batch_size(
    request: ResumeRequest, handle: ModelHandle, loaded: ModelDescription, bundle: DataBundle
) -> BatchSize:
    """--batch-size, else the run's own (recorded, or estimated from its step count)."""
    if request.batch_size is not None:
        return resolve_batch_size(request.batch_size)
    steps = loaded.optimizer.iterations or _int(loaded.extra.get("global_step"))
    epochs, epochs_from = _int(loaded.extra.get("checkpoint_epoch")), "the checkpoint"
    if not epochs and steps:
        epochs, epochs_from = _epochs_in_log(request)
    return resolve_batch_size(
        None,
        recorded=handle.recorded_batch_size,
        trainer_state=trainer_state_beside(request.model),
        steps=steps,
        epochs=epochs,
        epochs_from=epochs_from,
        n_train=len(bundle.train) if bundle.is_arrays else None,
    )


def prepare_at_batch_size(
    request: ResumeRequest,
    handle: ModelHandle,
    loaded: ModelDescription,
    bundle: DataBundle,
    observer: Observer,
) -> tuple[ResumeRequest, BatchSize, Any]:
    """Choose the batch size, say where it came from, and batch the data with it."""
    batch = choose_batch_size(request, handle, loaded, bundle)
    request = dataclasses.replace(request, batch_size=batch.value)
    observer.on_phase("evaluating the baseline")
    prepared = handle.prepare(bundle, batch.value, request.seed)
    batch = loader_batch_size(batch, _loader_batch_size(prepared))
    return request, batch, prepared


def say_batch_size(batch: BatchSize, observer: Observer) -> None:
    """Said where it changes what a run without --batch-size used to do (32), once the checks
    that can still fail have passed (a refusal stays one line); the report always says where
    the batch size came from."""
    if batch.source != OPTION and batch.value != DEFAULT_BATCH_SIZE:
        observer.on_message(Level.INFO, f"batch size {batch.value}: {batch.detail}")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


#: The log Keras' CSVLogger writes by default, looked for beside the checkpoint.
_SIBLING_LOGS = ("training.log",)


def _epochs_in_log(request: ResumeRequest) -> tuple[int | None, str]:
    """The epochs the run's log records: `--log`, or a CSVLogger file beside the checkpoint."""
    from plateau_cli.errors import PlateauError
    from plateau_cli.logs import read_log

    candidates = [request.log] if request.log is not None else []
    candidates += [request.model.parent / name for name in _SIBLING_LOGS]
    for path in candidates:
        if path is None or not path.is_file():
            continue
        try:
            epochs = read_log(path).history.n_epochs
        except PlateauError:
            continue
        if epochs:
            return epochs, path.name
    return None, ""


def _loader_batch_size(prepared: Any) -> int | None:
    """The batch size of a user's DataLoader (torch), which batches for itself."""
    train = getattr(prepared, "train", None)
    if train is None or not hasattr(train, "loader"):
        return None
    size = getattr(train, "batch_size", None)
    return size if isinstance(size, int) else None
