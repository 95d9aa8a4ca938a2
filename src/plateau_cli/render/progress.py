"""The rich `Observer`: a live bar per epoch on a terminal, one line per epoch elsewhere."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.status import Status

from plateau_cli.names import is_validation
from plateau_cli.observer import Level, Observer


def format_metrics(logs: Mapping[str, float]) -> str:
    keys = sorted(logs, key=lambda k: (is_validation(k), k))
    return "  ".join(f"{k} {logs[k]:.4f}" for k in keys)


class RichObserver(Observer):
    """Progress on the stderr console; bars only where it is a terminal."""

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.live = console.is_terminal and not quiet
        #: Batch progress only on a live bar: elsewhere it would cost and show nothing.
        self.wants_batches = self.live
        self._progress: Progress | None = None
        self._task: int | None = None
        self._steps: int | None = None
        self._total_epochs = 0
        self._lr: float | None = None
        self._status: Status | None = None

    def on_message(self, level: Level, text: str) -> None:
        if self.quiet and level is not Level.WARNING:
            return
        self._stop_status()
        style = "warning" if level is Level.WARNING else "info"
        prefix = "warning: " if level is Level.WARNING else ""
        self.console.print(f"[{style}]{prefix}[/{style}]{_escape(text)}", soft_wrap=True)

    def on_phase(self, text: str) -> None:
        """A transient spinner on a terminal; nothing elsewhere, so a CI log that ends in an
        error holds exactly that one error line."""
        if not self.live:
            return
        if self._status is None:
            self._status = self.console.status(f"{_escape(text)}…")
            self._status.start()
        else:
            self._status.update(f"{_escape(text)}…")

    def _stop_status(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def close(self) -> None:
        """Leave the terminal clean (the CLI calls this whatever happened)."""
        self._stop_status()
        self.on_train_end()

    def on_train_begin(self, total_epochs: int, steps_per_epoch: int | None) -> None:
        self._stop_status()
        self._total_epochs = total_epochs
        self._steps = steps_per_epoch
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[of]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[metrics]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
                # The trainer sends progress 4 times a second; redrawing more often only costs.
                refresh_per_second=4,
            )
            self._progress.start()

    def on_epoch_begin(self, epoch: int, lr: float | None) -> None:
        self._lr = lr
        if self._progress is not None:
            if self._task is not None:
                self._progress.remove_task(self._task)
            self._task = self._progress.add_task(
                "train", total=self._steps, epoch=epoch, of=self._total_epochs, metrics=""
            )

    def on_batch_end(self, epoch: int, batch: int, logs: Mapping[str, float]) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=batch, metrics=format_metrics(logs))

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float]) -> None:
        if self.quiet:
            return
        lr = f"  lr {self._lr:.3g}" if self._lr is not None else ""
        self.console.print(  # one line per epoch, never wrapped: CI logs are grepped
            f"epoch {epoch}/{self._total_epochs}  {format_metrics(logs)}{lr}",
            highlight=False,
            soft_wrap=True,
        )

    def on_train_end(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
