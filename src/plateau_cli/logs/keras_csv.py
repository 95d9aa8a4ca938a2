"""Keras' CSVLogger file (and any CSV with one row per epoch).

CSVLogger writes `epoch` first, then the logs' keys sorted by name, one dense row per epoch,
counting epochs from 0. `plateau-cli resume` writes its history.csv the same way, and a pandas
`DataFrame(history.history).to_csv()` gives the same with an unnamed index column, so this
reader takes those too.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from plateau_cli.history import HistoryBuilder
from plateau_cli.logs._errors import no_epochs
from plateau_cli.logs._table import header_cells, parse_table
from plateau_cli.logs._text import decode, read_bytes, to_float
from plateau_cli.logs.base import LogRead, LogReader

_NAME = re.compile(r"^[A-Za-z_][\w .\-/()@\[\]]*$")


def valid_epochs(raw: np.ndarray) -> np.ndarray:
    """Where a float column holds a usable epoch number (a whole number, 0 <= e < 1e9)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(raw) & (raw >= 0) & (raw < 1e9) & (raw == np.floor(raw))


def _numeric_row(cells: list[str], width: int) -> bool:
    """A data row: the header's width, and mostly numbers (a text column or two may be there)."""
    filled = [c for c in cells if c.strip()]
    numeric = sum(to_float(c) is not None for c in filled)
    return len(cells) == width and numeric > 0 and 2 * numeric >= len(filled)


def first_lines(head: bytes, count: int = 2) -> list[str]:
    text = decode(head).replace("\r\n", "\n").replace("\r", "\n")
    return [line for line in text.split("\n") if line.strip()][:count]


def looks_like_csv_header(line: str) -> bool:
    cells = header_cells(line)
    named = [c for c in cells[1:] if c] if cells and not cells[0] else cells
    return (
        len(cells) >= 2
        and len(named) == len(cells) - (not cells[0])
        and all(_NAME.match(c) for c in named)
    )


class KerasCsvReader(LogReader):
    format = "keras-csv"

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        lines = first_lines(head, 6)
        if not lines or not looks_like_csv_header(lines[0]):
            return False
        header = [c.lower() for c in header_cells(lines[0])]
        if len(lines) == 1:
            return "epoch" in header
        delimiter = max((",", ";", "\t"), key=lines[0].count)
        return any(_numeric_row(line.split(delimiter), len(header)) for line in lines[1:])

    def read(self, path: Path, run: str | None = None) -> LogRead:
        table = parse_table(decode(read_bytes(path)))
        builder = HistoryBuilder()
        for note in table.notes:
            builder.note(note)
        names = list(table.columns)
        epoch_name = next((n for n in names if n.lower() == "epoch"), None)
        if epoch_name is None and names and names[0] == "":
            epoch_name = ""  # pandas' unnamed index column
        if epoch_name is not None:
            raw = table.columns[epoch_name]
            valid = table.present[epoch_name] & valid_epochs(raw)
            if (~valid).any():
                builder.note(f"{int((~valid).sum())} row(s) without a valid epoch number skipped")
            epochs = np.where(valid, raw, 0).astype(np.int64)
            # CSVLogger counts from 0. A file that starts above 0 is taken as numbered from 1
            # (hand-written CSVs are); only a CSVLogger file begun after a resume, in a new
            # file, is then one off, and nothing in it says so.
            if valid.any() and int(epochs[valid].min()) == 0:
                epochs = epochs + 1
        else:
            valid = np.ones(table.n_rows, dtype=bool)
            epochs = np.arange(1, table.n_rows + 1, dtype=np.int64)
            builder.note("no epoch column: rows are numbered as epochs 1, 2, ... in file order")
        for name in names:
            if name == epoch_name:
                continue
            mask = valid & table.present[name]
            if mask.any():
                builder.add_epoch_array(name, epochs[mask], table.columns[name][mask])
        if not builder.has_epochs:
            found = f"{table.n_rows} row(s), columns: {', '.join(names) or 'none'}"
            raise no_epochs(path, self.format, found)
        return LogRead(builder.build(), self.format, path)
