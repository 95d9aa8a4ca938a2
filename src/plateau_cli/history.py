"""RunHistory: what a training run logged, per epoch (and per step where it was logged).

Every log reader produces one; the detectors, the terminal plot and the report consume it.
Epochs are numbered from 1, as a person reads them in "Epoch 3/50" (Keras' CSVLogger counts
from 0; its reader shifts). Values are floats; NaN and inf are kept, because divergence is a
finding, not noise to drop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from plateau_cli.names import NON_MODEL_METRICS, canonical_name, is_validation


@dataclass(frozen=True)
class Series:
    """One metric over epochs (or steps): `index[i]` is the epoch (or step) of `values[i]`."""

    name: str
    original: str
    index: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.values.shape[0])


@dataclass(frozen=True)
class RunHistory:
    """Metric name (canonical) -> series per epoch, plus step-level series where logged."""

    epochs: Mapping[str, Series]
    steps: Mapping[str, Series] = field(default_factory=dict)
    #: Things the reader skipped or repaired, each a sentence for the output ("line 14 cut off").
    notes: tuple[str, ...] = ()

    @property
    def metrics(self) -> list[str]:
        return list(self.epochs)

    @property
    def n_epochs(self) -> int:
        return max((int(s.index[-1]) for s in self.epochs.values() if len(s)), default=0)

    def get(self, name: str) -> Series | None:
        return self.epochs.get(name)

    def values(self, name: str) -> np.ndarray:
        series = self.epochs.get(name)
        return series.values if series is not None else np.array([], dtype=float)

    def original_names(self) -> dict[str, str]:
        return {name: s.original for name, s in self.epochs.items()}

    def model_metrics(self) -> list[str]:
        return [m for m in self.epochs if m not in NON_MODEL_METRICS]

    def validation_metrics(self) -> list[str]:
        return [m for m in self.model_metrics() if is_validation(m)]


class HistoryBuilder:
    """Collects (epoch or step, name, value) from a reader, then builds a RunHistory.

    It does the repairs every reader needs, in one place: names are normalised (the first
    original spelling is kept for the JSON), a repeated epoch keeps its latest value (a resumed
    run that restarted or repeated epochs), and notes record what was skipped. Readers of big
    step-level files hand over whole numpy columns (`add_*_array`) so a million rows cost
    milliseconds, not a Python loop.
    """

    def __init__(self) -> None:
        self._epoch: dict[str, _Column] = {}
        self._step: dict[str, _Column] = {}
        self._original: dict[str, str] = {}
        self._notes: list[str] = []

    def add_epoch(self, epoch: int, raw_name: str, value: float) -> None:
        self._column(self._epoch, raw_name).append(epoch, value)

    def add_epoch_row(self, epoch: int, row: Mapping[str, float]) -> None:
        for raw_name, value in row.items():
            self.add_epoch(epoch, raw_name, value)

    def add_step(self, step: int, raw_name: str, value: float) -> None:
        self._column(self._step, raw_name).append(step, value)

    def add_epoch_array(self, raw_name: str, epochs: np.ndarray, values: np.ndarray) -> None:
        self._column(self._epoch, raw_name).extend(epochs, values)

    def add_step_array(self, raw_name: str, steps: np.ndarray, values: np.ndarray) -> None:
        self._column(self._step, raw_name).extend(steps, values)

    def note(self, text: str) -> None:
        if text not in self._notes:
            self._notes.append(text)

    @property
    def has_epochs(self) -> bool:
        return any(len(c) for c in self._epoch.values())

    def _column(self, table: dict[str, _Column], raw: str) -> _Column:
        name = canonical_name(raw)
        self._original.setdefault(name, raw.strip())
        column = table.get(name)
        if column is None:
            column = table[name] = _Column()
        return column

    def build(self) -> RunHistory:
        notes = list(self._notes)
        epochs: dict[str, Series] = {}
        repeated: set[int] = set()
        for name, column in self._epoch.items():
            series, dupes = column.series(name, self._original.get(name, name))
            if series is not None:
                epochs[name] = series
                repeated.update(dupes)
        steps: dict[str, Series] = {}
        for name, column in self._step.items():
            series, _ = column.series(name, self._original.get(name, name))
            if series is not None:
                steps[name] = series
        if repeated:
            shown = sorted(repeated)
            text = ", ".join(str(e) for e in shown[:5]) + (" ..." if len(shown) > 5 else "")
            notes.append(
                f"{len(shown)} epoch(s) logged more than once (a resumed run?): kept the latest"
                f" values for epoch {text}"
            )
        return RunHistory(epochs=epochs, steps=steps, notes=tuple(notes))


class _Column:
    """Index/value pairs in arrival order; scalars are buffered, arrays kept as chunks."""

    def __init__(self) -> None:
        self._chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._index: list[int] = []
        self._values: list[float] = []

    def __len__(self) -> int:
        return len(self._index) + sum(len(i) for i, _ in self._chunks)

    def append(self, index: int, value: float) -> None:
        self._index.append(int(index))
        self._values.append(float(value))

    def extend(self, index: np.ndarray, values: np.ndarray) -> None:
        self._flush()
        self._chunks.append(
            (np.asarray(index, dtype=np.int64), np.asarray(values, dtype=np.float64))
        )

    def _flush(self) -> None:
        if self._index:
            self._chunks.append(
                (np.array(self._index, dtype=np.int64), np.array(self._values, dtype=np.float64))
            )
            self._index, self._values = [], []

    def series(self, name: str, original: str) -> tuple[Series | None, list[int]]:
        """Sorted by index; for a repeated index the value that arrived last wins."""
        self._flush()
        if not self._chunks:
            return None, []
        index = np.concatenate([i for i, _ in self._chunks])
        values = np.concatenate([v for _, v in self._chunks])
        if index.size == 0:
            return None, []
        # Stable sort keeps arrival order among equal indices; keep the last of each run.
        order = np.argsort(index, kind="stable")
        index, values = index[order], values[order]
        keep = np.ones(index.shape[0], dtype=bool)
        keep[:-1] = index[1:] != index[:-1]
        dupes = np.unique(index[~keep]).tolist()
        return Series(name, original, index[keep], values[keep]), dupes


def history_from_rows(rows: Iterable[Mapping[str, float]], first_epoch: int = 1) -> RunHistory:
    """A RunHistory from per-epoch dicts (used by the trainer and in tests)."""
    builder = HistoryBuilder()
    for offset, row in enumerate(rows):
        builder.add_epoch_row(first_epoch + offset, row)
    return builder.build()
