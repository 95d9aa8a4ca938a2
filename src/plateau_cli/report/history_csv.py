"""history.csv in Keras CSVLogger's layout (plus `lr`), so `plateau-cli diagnose` reads it back.

CSVLogger writes `epoch` (counted from 0) followed by the log keys in sorted order; we add the
per-epoch learning rate as `lr`, which sorts in among them just as a Keras log key would.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from plateau_cli.atomic import write_with
from plateau_cli.errors import OutputError
from plateau_cli.run.trainer import EpochRecord


def _cell(value: float | None) -> str:
    if value is None:
        return "NA"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(float(value))


def write_history_csv(path: Path, records: Sequence[EpochRecord]) -> None:
    keys = sorted({k for r in records for k in r.metrics} | {"lr"})

    def write(fh: IO[str]) -> None:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["epoch", *keys])
        for r in records:
            values = {**r.metrics, "lr": r.lr}
            writer.writerow([r.epoch - 1, *(_cell(values.get(k)) for k in keys)])

    write_with(path, write)


def append_history_row(path: Path, record: EpochRecord) -> None:
    """Add one epoch's row as the run goes, as Keras' CSVLogger does, so `tail -f` and
    `diagnose` see it at once.

    The header (written with the first row) fixes the columns, as CSVLogger's does; a key that
    appears later is left out here and kept in the final, complete history.csv. Header and row
    go out in one `write(2)` on an O_APPEND descriptor, so a killed process leaves whole lines.
    """
    header = _header(path)
    values = {**record.metrics, "lr": record.lr}
    keys = header if header is not None else sorted({*record.metrics, "lr"})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header is None:
        writer.writerow(["epoch", *keys])
    writer.writerow([record.epoch - 1, *(_cell(values.get(k)) for k in keys)])
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, buffer.getvalue().encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _header(path: Path) -> list[str] | None:
    """The columns after `epoch` of an existing history.csv; None when there is none yet."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            first = fh.readline()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    row = next(csv.reader([first]), []) if first.endswith("\n") else []
    return row[1:] if row[:1] == ["epoch"] else None
