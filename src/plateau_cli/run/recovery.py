"""A recovery point after every epoch, so SIGKILL, an OOM kill or a lost machine costs one epoch.

SIGINT/SIGTERM end in an orderly save (plateau_cli.run.interrupt); a kill gives no such chance,
so the state to go on from is kept on disk as the run goes, as Keras' BackupAndRestore and
Lightning's per-epoch checkpoints keep it:

    OUT/.continue/recovery/epoch-0007/checkpoint.pt   model + optimizer after epoch 7
    OUT/.continue/recovery/epoch-0005/checkpoint.pt   the best epoch's, while it is the best
    OUT/.continue/recovery/report.json                the run as if interrupted after epoch 7
    OUT/history.csv                                   one row appended per epoch

The recovery report.json has report.json's shape, stopped `interrupted`, with a continuation
block naming the two checkpoints relative to the recovery folder, so `resume --continue OUT`
reads it with the same reader as an interrupted run's report (`read_interrupted(recovery
folder)`). Each checkpoint is written atomically into a folder of its own epoch BEFORE the
report that names it, and a folder is deleted only after a newer report stopped naming it: a
kill at any instant leaves a report whose checkpoints are complete. The best weights cost no
extra save: they are the best epoch's own checkpoint, kept while it stays the best (one extra
save at the start, for the weights the run starts from).

The trainer's decisions (epoch records, best epoch and value, the patience counter, events) and
the strategy's position travel in the report. The data order of a continued run is the
uninterrupted run's where the adapter can replay its shuffle (torch's array batches, also
under torchrun: `ModelHandle.prepare_continued`), else drawn from `--seed` plus the epochs
done: it repeats on a re-run but is not the uninterrupted run's exact stream.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from plateau_cli.adapters.base import ModelHandle
from plateau_cli.atomic import remove_stale_temporaries, write_text
from plateau_cli.outputs import CONTINUE_DIR, HISTORY_CSV, REPORT_JSON
from plateau_cli.report.history_csv import append_history_row, write_history_csv
from plateau_cli.run.continuation import Interrupted, read_interrupted
from plateau_cli.run.trainer import Trainer, TrainerState

RECOVERY_DIR = f"{CONTINUE_DIR}/recovery"
_EPOCH_DIR = re.compile(r"^epoch-\d{4,}$")

#: (trainer state, continuation block) -> the recovery report.json's object.
DocBuilder = Callable[[TrainerState, dict[str, Any]], Mapping[str, Any]]
#: (trainer state, checkpoint path relative to the recovery folder) -> continuation block.
BlockBuilder = Callable[[TrainerState, str], dict[str, Any]]


def recovery_dir(out_dir: Path) -> Path:
    return out_dir / RECOVERY_DIR


class RecoveryPoints:
    """Writes the recovery point after each epoch; the trainer calls `after_epoch`."""

    def __init__(
        self,
        out_dir: Path,
        handle: ModelHandle,
        block: BlockBuilder,
        doc: DocBuilder,
    ) -> None:
        self.folder = recovery_dir(out_dir)
        self.history = out_dir / HISTORY_CSV
        self.handle = handle
        self._block = block
        self._doc = doc
        self._best: str | None = None
        #: Epochs whose recovery point could not be written (see `saves_midway`).
        self.skipped: list[int] = []
        #: Under torchrun only rank 0 writes: the other ranks keep no recovery point.
        self.active = handle.is_main_process

    def _relative(self, epoch: int) -> str:
        return f"epoch-{epoch:04d}/{self.handle.checkpoint_name()}"

    def begin(self, trainer: Trainer) -> None:
        """Before the first epoch: the starting best weights on disk, history.csv matching the
        epochs already done (a continued run rewrites the rows a kill may have cut short)."""
        if not self.active:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for folder in (self.folder.parent, self.folder, *self._epoch_dirs()):
            remove_stale_temporaries(folder)
        state = trainer.state
        if state.records:
            write_history_csv(self.history, state.records)
        if not self.handle.saves_midway:
            return
        relative = self._relative(state.best_epoch)
        if state.records:  # a continued run: the model holds the last epoch, not the best
            current = self.handle.snapshot()
            trainer.restore_best()
            self.handle.save(self.folder / relative, epochs_done=len(state.records))
            self.handle.restore(current)
            self._best = relative
        else:  # a new run: a point to go on from even if the first epoch never ends
            self.handle.save(self.folder / relative, epochs_done=0)
            self._best = relative
            self._write_report(state, relative)

    def after_epoch(self, trainer: Trainer, epoch: int) -> None:
        """Checkpoint, then the report naming it, then the history row, then old folders."""
        if not self.active:
            return
        state = trainer.state
        if not self.handle.saves_midway or self._best is None:
            self.skipped.append(epoch)
            append_history_row(self.history, state.records[-1])
            return
        relative = self._relative(epoch)
        self.handle.save(self.folder / relative, epochs_done=len(state.records))
        if state.best_epoch == epoch:
            self._best = relative
        self._write_report(state, relative)
        append_history_row(self.history, state.records[-1])
        self._prune(keep={relative.split("/")[0], self._best.split("/")[0]})

    def discard(self) -> None:
        """Remove the recovery folders of a new run that failed before finishing an epoch."""
        if not self.active:
            return
        shutil.rmtree(self.folder.parent, ignore_errors=True)

    def _write_report(self, state: TrainerState, relative: str) -> None:
        block = self._block(state, relative)
        block["best_checkpoint"] = self._best
        doc = self._doc(state, block)
        write_text(self.folder / REPORT_JSON, json.dumps(doc, indent=2, allow_nan=False) + "\n")

    def _epoch_dirs(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return [p for p in self.folder.iterdir() if p.is_dir() and _EPOCH_DIR.match(p.name)]

    def _prune(self, keep: set[str]) -> None:
        for folder in self._epoch_dirs():
            if folder.name not in keep:
                shutil.rmtree(folder, ignore_errors=True)


def read_latest(out_dir: Path) -> Interrupted:
    """The furthest point a run can go on from: its report.json (interrupted or paused) or its
    recovery point, whichever has more epochs; the report wins a tie (it has the deliverable).

    A report.json of a run that ended is final, whatever a kill left in `.continue/`.
    """
    folder = recovery_dir(out_dir)
    if not (folder / REPORT_JSON).is_file():
        return read_interrupted(out_dir)
    if not (out_dir / REPORT_JSON).is_file():
        return read_interrupted(folder)
    run = read_interrupted(out_dir)
    recovered = read_interrupted(folder)
    return recovered if len(recovered.trainer.records) > len(run.trainer.records) else run


def best_checkpoint(run: Interrupted, default: Path) -> Path:
    """Where the best weights so far are: the recovery point's best epoch, else `default` (the
    deliverable an interrupted run wrote)."""
    name = (run.doc.get("continuation") or {}).get("best_checkpoint")
    if isinstance(name, str) and name:
        path = run.out_dir / name
        if path.resolve().is_relative_to(run.out_dir.resolve()) and path.exists():
            return path
    return default
