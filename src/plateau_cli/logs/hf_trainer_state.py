"""Hugging Face `trainer_state.json`: the Trainer's `log_history`.

Entries come in three shapes: training logs every `logging_steps` (`loss`, `grad_norm`,
`learning_rate`, a fractional `epoch`, the global `step`), evaluations (`eval_*`), and one final
summary (`train_loss` averaged over the whole run, `train_runtime`...), which is not a point of
the curve and is skipped. Evaluations at epoch ends (`eval_strategy="epoch"`) give whole epochs;
evaluations every N steps are numbered in order, and the training loss is then averaged over
each evaluation interval so the two curves line up.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from plateau_cli.errors import CorruptFileError
from plateau_cli.history import HistoryBuilder
from plateau_cli.logs._errors import no_epochs
from plateau_cli.logs._json import JsonProblem, loads, numbers
from plateau_cli.logs._steps import add_steps, derived_note, steps_note
from plateau_cli.logs._text import decode, read_bytes
from plateau_cli.logs.base import LogRead, LogReader
from plateau_cli.names import canonical_name

_BOOKKEEPING = ("_runtime", "_samples_per_second", "_steps_per_second")
_SKIPPED = {"epoch", "step", "total_flos", "num_input_tokens_seen"}
_WHOLE = 1e-3
_MAX_COUNT = 1e12


def _metrics(entry: dict) -> dict[str, float]:
    return {k: v for k, v in numbers(entry) if k not in _SKIPPED and not k.endswith(_BOOKKEEPING)}


def _number(value: object) -> float | None:
    """An epoch or step as logged, or None when it is not a plausible one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not 0 <= value < _MAX_COUNT:
        return None
    return float(value)


class TrainerStateReader(LogReader):
    format = "hf-trainer-state"

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        text = decode(head).lstrip()
        return text.startswith("{") and '"log_history"' in text

    def read(self, path: Path, run: str | None = None) -> LogRead:
        try:
            state = loads(decode(read_bytes(path)))
        except JsonProblem as exc:
            raise CorruptFileError(
                f"{path}: not valid JSON ({exc}); a trainer_state.json being written may be"
                " incomplete: read the previous checkpoint's copy"
            ) from None
        history = state.get("log_history") if isinstance(state, dict) else None
        if not isinstance(history, list):
            raise CorruptFileError(f"{path}: no 'log_history' list; is it a trainer_state.json?")
        builder = HistoryBuilder()
        evals: list[tuple[float, int | None, dict[str, float]]] = []
        train: list[tuple[float | None, int | None, dict[str, float]]] = []
        skipped = 0
        for entry in history:
            if not isinstance(entry, dict):
                skipped += 1
                continue
            if any(str(k).endswith("_runtime") and str(k).startswith("train") for k in entry):
                continue  # the run's summary, not a point on the curve
            metrics = _metrics(entry)
            epoch, step = _number(entry.get("epoch")), _number(entry.get("step"))
            is_eval = any(str(k).startswith("eval_") for k in metrics)
            if not metrics or (is_eval and epoch is None):
                skipped += 1
            elif is_eval:
                evals.append((epoch, None if step is None else int(step), metrics))
            else:
                train.append((epoch, None if step is None else int(step), metrics))
        if skipped:
            builder.note(f"{skipped} log_history entr(ies) without usable numbers skipped")
        eval_steps = self._add_evals(builder, evals)
        self._add_train(
            builder, train, eval_steps, {canonical_name(k) for *_, m in evals for k in m}
        )
        if not builder.has_epochs:
            found = f"{len(history)} log_history entries, none with an epoch and a metric"
            raise no_epochs(path, self.format, found)
        return LogRead(builder.build(), self.format, path)

    @staticmethod
    def _add_evals(builder: HistoryBuilder, evals: list) -> np.ndarray | None:
        """Add evaluations; returns their steps when they are numbered in order, not by epoch."""
        if not evals:
            return None
        whole = all(e >= 1 - _WHOLE and abs(e - round(e)) < _WHOLE for e, _, _ in evals)
        if whole:
            for epoch, _, metrics in evals:
                builder.add_epoch_row(round(epoch), metrics)
            return None
        builder.note(
            "evaluations do not fall on epoch ends: numbered 1, 2, ... in order, and the"
            " training values averaged over each evaluation interval"
        )
        for number, (_, _, metrics) in enumerate(evals, start=1):
            builder.add_epoch_row(number, metrics)
        return np.array([s if s is not None else -1 for _, s, _ in evals], dtype=np.int64)

    @staticmethod
    def _add_train(
        builder: HistoryBuilder, train: list, eval_steps: np.ndarray | None, epoch_level: set[str]
    ) -> None:
        if not train:
            return
        names = sorted({k for *_, m in train for k in m})
        steps = np.array(
            [s if s is not None else i for i, (_, s, _) in enumerate(train, 1)], dtype=np.int64
        )
        if eval_steps is not None:
            epochs = np.searchsorted(eval_steps, steps, side="left") + 1
        elif all(e is not None for e, _, _ in train):
            # Logged at fractional epochs: 0.33 and 1.0 belong to epoch 1, 1.33 to epoch 2.
            raw = np.array([e for e, _, _ in train], dtype=np.float64)
            epochs = np.maximum(np.ceil(np.round(raw, 6)), 1).astype(np.int64)
        else:
            epochs = None
        derived = []
        for name in names:
            rows = [i for i, (_, _, m) in enumerate(train) if name in m]
            values = np.array([train[i][2][name] for i in rows], dtype=np.float64)
            made = add_steps(
                builder,
                name,
                steps[rows],
                values,
                None if epochs is None else epochs[rows],
                epoch_level,
            )
            if made:
                derived.append(made)
        builder.note(steps_note(len(train)))
        if derived:
            builder.note(derived_note(derived))
