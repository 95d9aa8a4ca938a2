"""JSON lines: one object per line, usually one per epoch (`{"epoch": 3, "loss": 0.41}`).

Objects with an `epoch` are epoch rows; objects that also carry a step (`step`, `global_step`,
`iter`, `batch`) are step rows, averaged per epoch where the log has no epoch rows for the same
metric; objects with neither are numbered in order. Nested objects are flattened
(`{"val": {"loss": 0.5}}` is `val_loss`). A last line cut off mid-write is skipped with a note,
as are other lines that are not JSON objects.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from plateau_cli.history import HistoryBuilder
from plateau_cli.logs._epochs import EpochRows
from plateau_cli.logs._errors import no_epochs
from plateau_cli.logs._json import JsonProblem, loads, numbers
from plateau_cli.logs._steps import add_steps, derived_note, steps_note
from plateau_cli.logs._text import decode, read_bytes
from plateau_cli.logs.base import LogRead, LogReader
from plateau_cli.names import canonical_name

_EPOCH_KEYS = ("epoch",)
_STEP_KEYS = ("step", "global_step", "iter", "iteration", "batch")
_MAX_NOTED = 3
_MAX_EPOCH = 1e12


def _key(row: dict[str, float], keys: tuple[str, ...]) -> tuple[str, float] | None:
    for name, value in row.items():
        if name.lower() in keys:
            return name, value
    return None


class JsonLinesReader(LogReader):
    format = "jsonl"

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        lines = [ln.strip() for ln in decode(head).splitlines() if ln.strip()]
        if not lines or not lines[0].startswith("{"):
            return False
        try:
            first = loads(lines[0])
        except JsonProblem:
            return False
        return isinstance(first, dict) and any(True for _ in numbers(first))

    def read(self, path: Path, run: str | None = None) -> LogRead:
        data = read_bytes(path)
        lines = decode(data).splitlines()
        last_no = max((i for i, ln in enumerate(lines, 1) if ln.strip()), default=0)
        builder = HistoryBuilder()
        rows = EpochRows()
        step_rows: list[tuple[int, int | None, dict[str, float]]] = []
        bad: list[int] = []
        in_order = 0
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                obj = loads(line)
            except JsonProblem:
                obj = None
            if not isinstance(obj, dict):
                if line_no == last_no and not data.endswith((b"\n", b"\r")):
                    builder.note(f"line {line_no} cut off (training still running?): skipped")
                else:
                    bad.append(line_no)
                continue
            row = dict(numbers(obj))
            epoch_key, step_key = _key(row, _EPOCH_KEYS), _key(row, _STEP_KEYS)
            epoch = self._whole(epoch_key[1]) if epoch_key else None
            for key in (epoch_key, step_key):
                if key:
                    row.pop(key[0])
            if not row:
                continue
            if step_key is not None or (epoch_key is not None and epoch is None):
                step = self._whole(step_key[1]) if step_key else None
                if epoch is None and epoch_key is not None and 0 < epoch_key[1] < _MAX_EPOCH:
                    epoch = max(math.ceil(epoch_key[1] - 1e-6), 1)  # fractional: epoch 1.5 -> 2
                step_rows.append((step if step is not None else len(step_rows), epoch, row))
            elif epoch is not None:
                rows.add(epoch, row, line_no)
            else:
                in_order += 1
                rows.add(in_order, row, line_no)
        if in_order:
            builder.note("objects without an 'epoch' key: numbered as epochs 1, 2, ... in order")
        if bad:
            shown = ", ".join(str(n) for n in bad[:_MAX_NOTED]) + (
                " ..." if len(bad) > _MAX_NOTED else ""
            )
            builder.note(f"{len(bad)} line(s) that are not JSON objects skipped (line {shown})")
        rows.into(builder)
        if step_rows:
            epoch_level = {canonical_name(n) for row in rows.rows.values() for n in row}
            self._add_steps(builder, step_rows, epoch_level)
        if not builder.has_epochs:
            found = f"{len(lines)} line(s), {len(bad)} of them not JSON objects"
            raise no_epochs(path, self.format, found)
        return LogRead(builder.build(), self.format, path)

    @staticmethod
    def _whole(value: float) -> int | None:
        if math.isfinite(value) and 0 <= value < _MAX_EPOCH and value == int(value):
            return int(value)
        return None

    @staticmethod
    def _add_steps(builder: HistoryBuilder, step_rows: list, epoch_level: set[str]) -> None:
        have_epochs = all(epoch is not None for _, epoch, _ in step_rows)
        shift = 1 if have_epochs and min(e for _, e, _ in step_rows) == 0 else 0
        derived = []
        for name in dict.fromkeys(k for *_, row in step_rows for k in row):
            points = [(s, e, row[name]) for s, e, row in step_rows if name in row]
            steps = np.array([p[0] for p in points], dtype=np.int64)
            values = np.array([p[2] for p in points], dtype=np.float64)
            epochs = (
                np.array([p[1] for p in points], dtype=np.int64) + shift if have_epochs else None
            )
            if add_steps(builder, name, steps, values, epochs, epoch_level):
                derived.append(canonical_name(name))
        builder.note(steps_note(len(step_rows)))
        if derived:
            builder.note(derived_note(derived))
        elif not have_epochs and not epoch_level:
            for name in dict.fromkeys(k for *_, row in step_rows for k in row):
                points = [row[name] for *_, row in step_rows if name in row]
                builder.add_epoch_array(name, np.arange(1, len(points) + 1), np.array(points))
            builder.note("no epoch numbers: logged points numbered as epochs 1, 2, ... in order")
