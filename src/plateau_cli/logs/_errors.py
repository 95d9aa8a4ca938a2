"""The one-line errors every reader raises when a file is of its format but holds no epochs."""

from __future__ import annotations

from pathlib import Path

from plateau_cli.errors import CorruptFileError


def no_epochs(path: Path, format_name: str, found: str) -> CorruptFileError:
    """`run.csv: a keras-csv log with no usable per-epoch metrics (found: a header only) ...`"""
    return CorruptFileError(
        f"{path}: read as {format_name}, but it holds no usable per-epoch metrics ({found});"
        " if training is still running, try again after the first epoch ends"
    )
