"""history.csv in Keras CSVLogger's layout (plus `lr`), so `plateau-cli diagnose` reads it back.

CSVLogger writes `epoch` (counted from 0) followed by the log keys in sorted order; we add the
per-epoch learning rate as `lr`, which sorts in among them just as a Keras log key would.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from plateau_cli.atomic import write_with
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
