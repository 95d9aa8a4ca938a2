"""CSV text to numeric columns: a numpy fast path for big clean files, a careful path for the rest.

Both CSV readers (Keras' CSVLogger, Lightning's CSVLogger) need the same thing: a header of
names and, per name, a float column in which an empty cell is told apart from a logged NaN
(Lightning leaves cells empty where a metric was not logged; a diverged run logs `nan`). A
million-row file is parsed by numpy in one call (`_packed`: only the non-empty cells are
parsed, so a Lightning file whose rows are two-thirds empty cells costs a third of a
`numpy.loadtxt` over it with the blanks filled in); anything irregular (quotes, ragged rows,
non-numeric cells, a cut-off last line) goes row by row through the csv module and says in
`notes` what it skipped.
"""

from __future__ import annotations

import csv
import io
import warnings
from dataclasses import dataclass

import numpy as np

from plateau_cli.logs._text import to_float

#: Stands for an empty cell in the fast path when the file has NaNs of its own: a value no
#: training log prints. Without NaNs in the file, an empty cell becomes "nan", which numpy
#: parses three times faster.
_BLANK = -9e307
_BLANK_TEXT = "-9e307"
_DELIMITERS = (",", ";", "\t")
_MAX_NOTED = 3


@dataclass(frozen=True)
class Table:
    """Named float columns; `present[name][i]` is False where row i left the cell empty."""

    names: tuple[str, ...]
    columns: dict[str, np.ndarray]
    present: dict[str, np.ndarray]
    notes: tuple[str, ...]

    @property
    def n_rows(self) -> int:
        return int(next(iter(self.columns.values())).shape[0]) if self.columns else 0


def header_cells(first_line: str) -> list[str]:
    """The header's names, split on the delimiter that gives the most fields."""
    return _parse_header(first_line, _delimiter(first_line))


def _delimiter(header: str) -> str:
    return max(_DELIMITERS, key=header.count)


def _parse_header(line: str, delimiter: str) -> list[str]:
    try:
        cells = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return []
    return [c.strip() for c in cells]


def parse_table(text: str) -> Table:
    """Parse CSV text whose first non-empty line is a header. Text must have no BOM."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    header_line, _, body = text.lstrip("\n").partition("\n")
    delimiter = _delimiter(header_line)
    names = _parse_header(header_line, delimiter)
    notes: list[str] = []
    if body and not body.endswith("\n"):
        # The last line is complete only if it has all its fields and parses; otherwise the
        # writer was interrupted (training still running) and the line is dropped.
        cut = body.rfind("\n") + 1
        last = body[cut:]
        if last.count(delimiter) != len(names) - 1 or not _numeric_row(last, delimiter):
            line_no = text.lstrip("\n").count("\n") + 1
            notes.append(f"line {line_no} cut off (training still running?): skipped")
            body = body[:cut]
        else:
            body += "\n"
    table = None
    if names and _has_blanks(body, delimiter):
        table = _packed(names, body, delimiter)
    if table is None and names:
        table = _fast(names, body, delimiter)
    if table is None:
        table = _careful(names, body, delimiter)
    return Table(table.names, table.columns, table.present, tuple(notes) + table.notes)


def _numeric_row(line: str, delimiter: str) -> bool:
    return all(c.strip() == "" or to_float(c) is not None for c in line.split(delimiter))


def _has_blanks(body: str, d: str) -> bool:
    """Whether the first rows have an empty cell. Only a choice of the faster path (both give
    the same table), so a look at the start does: four scans of a whole 25 MB body cost
    ~0.04 s (measured) where a file without blanks gains nothing from them."""
    head = body[:65536]
    return head.startswith(d) or f"{d}{d}" in head or f"{d}\n" in head or f"\n{d}" in head


def _packed(names: list[str], body: str, delimiter: str) -> Table | None:
    """Every cell parsed in one `numpy.fromstring` over the non-empty cells; None when the body
    is not perfectly regular (the callers then try `_fast`, then `_careful`).

    The body's bytes become one comma-separated run (newlines and the delimiter as commas);
    a cell is empty where two commas meet. Dropping every comma that another follows leaves
    the non-empty cells only, which numpy parses; they go back to their places by the mask of
    non-empty cells. The number of values parsed must equal the number of non-empty cells,
    so a cell numpy reads differently from a number (text, "1 2") sends the body elsewhere.
    """
    rows = body.count("\n")
    width = len(names)
    if rows == 0 or '"' in body or "\n\n" in body:
        return None
    if body.count(delimiter) != rows * (width - 1):
        return None
    if delimiter != "," and "," in body:
        return None
    try:
        raw = np.frombuffer(body.encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError:
        return None
    comma, newline = ord(","), ord("\n")
    flat = raw.copy()
    flat[(raw == newline) | (raw == ord(delimiter))] = comma
    is_comma = flat == comma  # one per cell, where it ends: rows * width of them
    after_comma = np.empty_like(is_comma)
    after_comma[0], after_comma[1:] = True, is_comma[:-1]
    ends_empty = is_comma & after_comma  # byte arrays only: no per-cell index arrays
    present = ~ends_empty[is_comma]
    # Drop the comma that ends an empty cell (nothing to drop in a file without blanks).
    packed = flat[~ends_empty].tobytes() if ends_empty.any() else flat.tobytes()
    if not present.any():
        values = np.empty(0)
    else:
        with warnings.catch_warnings():
            # numpy warns (DeprecationWarning) and stops at the first cell it cannot read.
            warnings.simplefilter("error")
            try:
                values = np.fromstring(packed, dtype=np.float64, sep=",")
            except (ValueError, DeprecationWarning):
                return None
    if values.shape[0] != int(present.sum()):
        return None
    if values.shape[0] == rows * width:
        data = values
    else:
        data = np.full(rows * width, np.nan)
        data[present] = values
    data, mask = data.reshape(rows, width), present.reshape(rows, width)
    columns = {name: data[:, i] for i, name in enumerate(names)}
    masks = {name: mask[:, i] for i, name in enumerate(names)}
    return Table(tuple(names), columns, masks, ())


def _fast(names: list[str], body: str, delimiter: str) -> Table | None:
    """numpy.loadtxt on the whole body, or None when the body is not perfectly regular."""
    rows = body.count("\n")
    if rows == 0 or '"' in body or "\n\n" in body:
        return None
    if body.count(delimiter) != rows * (len(names) - 1):
        return None
    d = delimiter
    literal_nan = "nan" in body.lower()
    blank = _BLANK_TEXT if literal_nan else "nan"
    filled = ("\n" + body).replace(f"\n{d}", f"\n{blank}{d}")
    filled = filled.replace(f"{d}{d}", f"{d}{blank}{d}").replace(f"{d}{d}", f"{d}{blank}{d}")
    filled = filled.replace(f"{d}\n", f"{d}{blank}\n")
    try:
        data = np.loadtxt(io.StringIO(filled[1:]), delimiter=d, dtype=np.float64, ndmin=2)
    except ValueError:
        return None
    if data.shape != (rows, len(names)):
        return None
    columns: dict[str, np.ndarray] = {}
    present: dict[str, np.ndarray] = {}
    for i, name in enumerate(names):
        column = data[:, i]
        mask = column != _BLANK if literal_nan else ~np.isnan(column)
        columns[name] = np.where(mask, column, np.nan) if literal_nan else column
        present[name] = mask
    return Table(tuple(names), columns, present, ())


def _careful(names: list[str], body: str, delimiter: str) -> Table:
    """Row by row: ragged rows and non-numeric cells are skipped and counted."""
    width = len(names)
    values: list[list[float]] = [[] for _ in names]
    seen: list[list[bool]] = [[] for _ in names]
    ragged: list[int] = []
    bad_rows: list[tuple[int, str, str]] = []
    text_cells = [0] * width
    number_cells = [0] * width
    try:
        rows = list(csv.reader(io.StringIO(body), delimiter=delimiter))
    except csv.Error:
        rows = [line.split(delimiter) for line in body.split("\n")]
    for line_no, row in enumerate(rows, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != width:
            ragged.append(line_no)
            continue
        bad: tuple[int, str, str] | None = None
        for i, cell in enumerate(row):
            value = to_float(cell) if cell.strip() else None
            if value is None and cell.strip():
                text_cells[i] += 1
                if bad is None:
                    bad = (line_no, names[i], cell.strip()[:20])
            elif value is not None:
                number_cells[i] += 1
            values[i].append(np.nan if value is None else value)
            seen[i].append(value is not None)
        if bad is not None:
            bad_rows.append(bad)
    notes: list[str] = []
    textual = {i for i in range(width) if text_cells[i] and not number_cells[i]}
    for i in sorted(textual):
        notes.append(f"column {names[i]!r} holds text, not numbers: ignored")
    bad_rows = [b for b in bad_rows if names.index(b[1]) not in textual]
    if bad_rows:
        shown = ", ".join(f"line {n}: {c}={v!r}" for n, c, v in bad_rows[:_MAX_NOTED])
        notes.append(
            f"{len(bad_rows)} row(s) with non-numeric values ({shown}): those values skipped"
        )
    if ragged:
        shown = ", ".join(str(n) for n in ragged[:_MAX_NOTED])
        more = " ..." if len(ragged) > _MAX_NOTED else ""
        notes.append(f"{len(ragged)} row(s) without {width} fields skipped (line {shown}{more})")
    keep = [i for i in range(width) if i not in textual]
    return Table(
        tuple(names[i] for i in keep),
        {names[i]: np.array(values[i], dtype=np.float64) for i in keep},
        {names[i]: np.array(seen[i], dtype=bool) for i in keep},
        tuple(notes),
    )
