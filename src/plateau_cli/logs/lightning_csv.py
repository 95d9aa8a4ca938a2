"""PyTorch Lightning's CSVLogger `metrics.csv`: step rows and epoch rows interleaved.

Lightning writes one row per `log_metrics` call with the union of all keys as columns, so a
training-step row has `train_loss_step` and blanks elsewhere, an end-of-validation row has
`val_loss` and blanks elsewhere. A metric logged with `on_step=True, on_epoch=True` appears
twice, as `<name>_step` and `<name>_epoch`. Both `epoch` (from 0) and `step` are on every row.
Any CSV with `epoch` and `step` columns reads the same way, dense or not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plateau_cli.history import HistoryBuilder
from plateau_cli.logs._errors import no_epochs
from plateau_cli.logs._steps import add_steps, derived_note, steps_note
from plateau_cli.logs._table import Table, header_cells, parse_table
from plateau_cli.logs._text import decode, read_bytes
from plateau_cli.logs.base import LogRead, LogReader
from plateau_cli.logs.keras_csv import first_lines, looks_like_csv_header, valid_epochs
from plateau_cli.names import canonical_name


class LightningCsvReader(LogReader):
    format = "lightning-csv"

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        lines = first_lines(head, 1)
        if not lines or not looks_like_csv_header(lines[0]):
            return False
        header = {c.lower() for c in header_cells(lines[0])}
        return {"epoch", "step"} <= header

    def read(self, path: Path, run: str | None = None) -> LogRead:
        table = parse_table(decode(read_bytes(path)))
        builder = HistoryBuilder()
        for note in table.notes:
            builder.note(note)
        epoch_name = next((n for n in table.columns if n.lower() == "epoch"), None)
        step_name = next((n for n in table.columns if n.lower() == "step"), None)
        if epoch_name is None or step_name is None:
            raise no_epochs(path, self.format, "no numeric 'epoch' and 'step' columns")
        has_epoch = table.present[epoch_name] & valid_epochs(table.columns[epoch_name])
        has_step = table.present[step_name] & valid_epochs(table.columns[step_name])
        epochs = np.where(has_epoch, table.columns[epoch_name], 0).astype(np.int64) + 1
        steps = np.where(has_step, table.columns[step_name], 0).astype(np.int64)
        metrics = [n for n in table.columns if n not in (epoch_name, step_name)]
        per_step = [n for n in metrics if _is_step_level(table, n, epochs, has_epoch)]
        per_epoch = [n for n in metrics if n not in per_step]
        for name in per_epoch:
            mask = has_epoch & table.present[name]
            if mask.any():
                builder.add_epoch_array(name, epochs[mask], table.columns[name][mask])
        epoch_level = {canonical_name(n) for n in per_epoch}
        derived: list[str] = []
        step_rows = np.zeros(table.n_rows, dtype=bool)
        for name in per_step:
            mask = has_step & table.present[name]
            if not mask.any():
                continue
            step_rows |= mask
            epoch_of = epochs[mask] if has_epoch[mask].all() else None
            made = add_steps(
                builder, name, steps[mask], table.columns[name][mask], epoch_of, epoch_level
            )
            if made:
                derived.append(made)
        if step_rows.any():
            builder.note(steps_note(int(step_rows.sum())))
        if derived:
            builder.note(derived_note(derived))
        if not builder.has_epochs:
            raise no_epochs(
                path, self.format, f"{table.n_rows} row(s), columns: {', '.join(table.columns)}"
            )
        return LogRead(builder.build(), self.format, path)


def _is_step_level(table: Table, name: str, epochs: np.ndarray, has_epoch: np.ndarray) -> bool:
    """`_step` names are; `_epoch` names are not; others are when most epochs hold several
    values (a resumed run repeats a few epochs once, which does not make a metric per-step)."""
    lowered = name.lower()
    if lowered.endswith("_step"):
        return True
    if lowered.endswith("_epoch"):
        return False
    mask = table.present[name] & has_epoch
    if not mask.any():
        return True
    counts = np.bincount(epochs[mask])
    return float(np.median(counts[counts > 0])) > 1
