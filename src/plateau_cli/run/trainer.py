"""The framework-neutral side of training: early stopping, restore-best, NaN guard, interrupts.

The adapter runs the framework's own loop and calls this `Trainer` (an `EpochControl`) after
every epoch, and (torch) after every batch. Keeping the decisions here means Keras and PyTorch
stop, restore and report in exactly the same way, and the decisions use the one `Monitor` that
the detectors and the report's `improved` flag also use.

Nothing here synchronises with the device per batch: the per-batch call polls the interrupt
flag and a clock, and only a few times a second (`read_interval`) reads the running metrics (one
device synchronisation) for the NaN guard and the progress bar. Every epoch's metrics are checked
too, so a NaN is caught at the latest at the end of the epoch it appears in, and the weights of
the best epoch are restored as before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from plateau_cli.adapters.base import ModelHandle
from plateau_cli.monitor import Monitor
from plateau_cli.observer import Level, NullObserver, Observer
from plateau_cli.run.interrupt import InterruptGuard
from plateau_cli.strategies.base import Strategy

#: How the restore-best event starts (a continued run drops the interrupted part's one).
RESTORED = "restored the best weights"


class StopReason(str, Enum):
    """Why training ended (`stopped_reason` in report.json)."""

    COMPLETED = "completed"  # ran every epoch asked for
    EARLY_STOPPING = "early-stopping"  # `patience` epochs without improvement
    NON_FINITE = "non-finite"  # NaN/inf loss: stopped and restored the best weights
    INTERRUPTED = "interrupted"  # Ctrl-C / SIGTERM
    PAUSED = "paused"  # `trial`: this candidate's rung budget is spent; it may be continued


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    lr: float | None
    metrics: Mapping[str, float]


@dataclass
class TrainerState:
    """Everything the trainer decided, for the report."""

    records: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0  # 0 = the model as it was before training resumed
    best_value: float | None = None
    wait: int = 0
    stop_reason: StopReason | None = None
    stop_detail: str | None = None
    restored_best: bool = False
    events: list[str] = field(default_factory=list)


#: Seconds between two reads of the running metrics during an epoch (NaN guard, progress bar).
READ_INTERVAL_S = 0.25


class Trainer:
    """Drives one resumed run; pass it to `ModelHandle.fit` as the EpochControl."""

    def __init__(
        self,
        handle: ModelHandle,
        strategy: Strategy,
        monitor: Monitor,
        *,
        patience: int | None,
        guard: InterruptGuard,
        observer: Observer | None = None,
        start_value: float | None = None,
        resumed: TrainerState | None = None,
        best_snapshot: Any = None,
        pause_after: int | None = None,
        read_interval: float = READ_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        after_epoch: Callable[[Trainer, int], None] | None = None,
        extra_metrics: Callable[[], dict[str, float]] | None = None,
    ) -> None:
        """`resumed` and `best_snapshot` carry an interrupted run's decisions (`--continue`);
        `after_epoch` runs once an epoch's decisions are made (the recovery point).

        `read_interval` and `clock` set how often the running metrics are read mid-epoch;
        `extra_metrics` adds metrics measured after each epoch (balanced accuracy for a run
        judged on it).
        """
        self.handle = handle
        self.strategy = strategy
        self.extra_metrics = extra_metrics
        self.monitor = monitor
        self.patience = patience
        self.guard = guard
        self.observer = observer or NullObserver()
        self.state = resumed or TrainerState(best_value=start_value)
        self._best_snapshot: Any = best_snapshot if best_snapshot is not None else handle.snapshot()
        #: Weights after the last completed epoch: what an interrupted run continues from.
        self.last_snapshot: Any = None
        self._epoch_lr: float | None = None
        #: Stop (paused, continuable) after this epoch: how `trial` spends a rung's budget.
        self.pause_after = pause_after
        self.read_interval = read_interval
        self._clock = clock
        self._next_read = 0.0
        self.after_epoch = after_epoch

    @property
    def batch_progress(self) -> bool:
        """Whether the observer shows progress within an epoch (a live bar on a terminal).

        Loops where a per-batch call costs something (Keras: a batch hook turns off its
        asynchronous callbacks) make one only when this is True.
        """
        return bool(getattr(self.observer, "wants_batches", False))

    def on_stop_request(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run `callback` as soon as an interrupt is requested (it must only set a flag)."""
        return self.guard.add_listener(callback)

    # -- the run --------------------------------------------------------------------------------
    def run(self, prepared: Any, epochs: int, first_epoch: int = 1) -> TrainerState:
        """Train up to `epochs` epochs, then leave the best weights in the model."""
        last = first_epoch + epochs - 1
        # The counter is the run's own: a continued run or a trial rung shows "epoch 5/40",
        # its real epoch over the run's whole length, not over what is left of it.
        self.observer.on_train_begin(max(last, 0), self.handle.steps_per_epoch(prepared))
        epoch = first_epoch
        try:
            if epochs <= 0:
                pass  # a continued run that had nothing left but the final save
            elif self.strategy.needs_epoch_segments:
                while epoch <= last and self.state.stop_reason is None:
                    self.handle.fit(prepared, epoch, 1, self)
                    epoch += 1
            else:
                self.handle.fit(prepared, first_epoch, epochs, self)
        finally:
            self.observer.on_train_end()
        if self.state.stop_reason is None:
            self.state.stop_reason = StopReason.COMPLETED
        self._restore_best()
        return self.state

    @property
    def epochs_run(self) -> int:
        return len(self.state.records)

    # -- EpochControl -------------------------------------------------------------------------
    def on_epoch_begin(self, epoch: int) -> None:
        for change in self.strategy.on_epoch_begin(self.handle, epoch):
            self._event(change)
        self._epoch_lr = self.handle.learning_rate()
        self.observer.on_epoch_begin(epoch, self._epoch_lr)
        self._next_read = self._clock() + self.read_interval

    def on_batch_end(self, epoch: int, batch: int, logs: Mapping[str, float]) -> bool:
        """Per batch: a flag and a clock. `logs` (lazy, on the device) is read only every
        `read_interval` seconds: that read is the one device synchronisation."""
        if self.guard.requested:
            self._stop(StopReason.INTERRUPTED, f"{self.guard.signal_name} during epoch {epoch}")
            return True
        now = self._clock()
        if now < self._next_read:
            return False
        self._next_read = now + self.read_interval
        return self._read_running(epoch, batch, logs)

    def _read_running(self, epoch: int, batch: int, logs: Mapping[str, float]) -> bool:
        if self.batch_progress:
            values = {key: float(logs[key]) for key in logs}
        else:  # only what the NaN guard needs (`in` on a Mapping would read it a second time)
            try:
                values = {"loss": float(logs["loss"])}
            except KeyError:
                values = {}
        loss = values.get("loss")
        if loss is not None and not math.isfinite(loss):
            self._stop(
                StopReason.NON_FINITE,
                f"training loss became {loss} at epoch {epoch}, batch {batch}",
            )
            return True
        if self.batch_progress:
            self.observer.on_batch_end(epoch, batch, values)
        return False

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> bool:
        if self.state.stop_reason is not None:
            # Stopped mid-epoch (interrupt, NaN): the partial epoch is not a result.
            return True
        metrics = {k: float(v) for k, v in logs.items()}
        non_finite = [k for k, v in metrics.items() if not math.isfinite(v)]
        if non_finite:
            # Caught at the epoch's end (the mid-epoch reads are only a few a second): this
            # epoch is no result, like an epoch cut by a NaN mid-way.
            loss = metrics.get("loss")
            detail = (
                f"training loss became {loss} at epoch {epoch}"
                if loss is not None and not math.isfinite(loss)
                else f"{', '.join(non_finite)} not finite at epoch {epoch}"
            )
            self._stop(StopReason.NON_FINITE, detail)
            return True
        metrics |= self.strategy.epoch_metrics(self.handle)
        if self.extra_metrics is not None:
            metrics |= self.extra_metrics()
        self.state.records.append(EpochRecord(epoch, self._epoch_lr, metrics))
        self.last_snapshot = self.handle.snapshot()
        self.observer.on_epoch_end(epoch, metrics)
        value = metrics.get(self.monitor.metric)
        if value is not None and self.monitor.is_improvement(value, self.state.best_value):
            self.state.best_value = value
            self.state.best_epoch = epoch
            self.state.wait = 0
            self._best_snapshot = self.handle.snapshot()
        else:
            self.state.wait += 1
        for change in self.strategy.on_epoch_end(self.handle, epoch, metrics):
            self._event(change)
        if self.after_epoch is not None:
            self.after_epoch(self, epoch)
        if self.guard.requested:
            self._stop(StopReason.INTERRUPTED, f"{self.guard.signal_name} after epoch {epoch}")
            return True
        if self.pause_after is not None and epoch >= self.pause_after:
            self._stop(StopReason.PAUSED, f"paused after epoch {epoch} (trial budget)")
            return True
        if self.patience is not None and self.state.wait >= self.patience:
            self._stop(
                StopReason.EARLY_STOPPING,
                f"no improvement of {self.monitor.metric} for {self.state.wait} epochs",
            )
            return True
        return False

    # -- helpers ------------------------------------------------------------------------------
    def _stop(self, reason: StopReason, detail: str) -> None:
        if self.state.stop_reason is None:
            self.state.stop_reason = reason
            self.state.stop_detail = detail
            quiet = (StopReason.EARLY_STOPPING, StopReason.PAUSED)
            level = Level.INFO if reason in quiet else Level.WARNING
            self.observer.on_message(level, f"stopped: {detail}")

    def _event(self, text: str) -> None:
        self.state.events.append(text)
        self.observer.on_message(Level.INFO, text)

    def restore_last(self) -> bool:
        """Put back the weights of the last completed epoch (for a continuation checkpoint)."""
        if self.last_snapshot is None:
            return False
        self.handle.restore(self.last_snapshot)
        return True

    def restore_best(self) -> None:
        self.handle.restore(self._best_snapshot)

    def _restore_best(self) -> None:
        """Leave the model at its best epoch (or as it started, when no epoch beat it)."""
        last_epoch = self.state.records[-1].epoch if self.state.records else 0
        # A continued run decides again: an interrupted part's "restored ..." no longer holds.
        self.state.events = [e for e in self.state.events if not e.startswith(RESTORED)]
        self.state.restored_best = False
        if self.state.stop_reason is StopReason.PAUSED:
            # The deliverable holds the best weights; the continuation the last ones.
            self.handle.restore(self._best_snapshot)
            return
        if self.state.best_epoch != last_epoch or self.state.stop_reason in (
            StopReason.NON_FINITE,
            StopReason.INTERRUPTED,
        ):
            self.handle.restore(self._best_snapshot)
            self.state.restored_best = True
            where = (
                f"epoch {self.state.best_epoch}"
                if self.state.best_epoch
                else "the starting weights (no epoch improved on them)"
            )
            self._event(f"{RESTORED}: {where}")
