"""Progress reporting from the core, without the core knowing about terminals.

The core calls an `Observer`; the CLI implements one with rich (progress bars on stderr), tests
and `--json` runs use `NullObserver`. In a multi-process run only the main process gets a real
observer, so nothing here assumes it is the only process.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum


class Level(str, Enum):
    INFO = "info"
    WARNING = "warning"


class Observer:
    """Callbacks the core makes; every method is optional (the base class does nothing)."""

    #: Whether `on_batch_end` is wanted at all. Batch progress is never free (Keras turns off
    #: its asynchronous callbacks for a batch hook), so loops make those calls only when asked.
    wants_batches: bool = False

    def on_message(self, level: Level, text: str) -> None:
        """A sentence for a person: a warning about the data, what was restored, ..."""

    def on_phase(self, text: str) -> None:
        """A step that may take a while (loading TensorFlow, evaluating the baseline)."""

    def on_train_begin(self, total_epochs: int, steps_per_epoch: int | None) -> None:
        """Training is about to start."""

    def on_epoch_begin(self, epoch: int, lr: float | None) -> None:
        """`epoch` counts from 1 within this resumed run."""

    def on_batch_end(self, epoch: int, batch: int, logs: Mapping[str, float]) -> None:
        """Progress within an epoch, a few times a second (never per batch): `batch` batches
        done (counting from 1), `logs` the running metrics, already read from the device."""

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> None:
        """Train and validation metrics of the finished epoch."""

    def on_train_end(self) -> None:
        """Training is over (whatever the reason)."""


class NullObserver(Observer):
    """Says nothing; used for `--json`, `--quiet` and tests."""
