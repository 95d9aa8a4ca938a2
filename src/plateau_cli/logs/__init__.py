"""Read any training log we know into a RunHistory: `read_log(path)`.

The format is sniffed from the content, in the order of `registry.LOG_READERS` (most specific
first); a file's extension only moves the formats it suggests to the front of that order and
names them in the error when nothing matches. The chosen reader's module is imported only then.
Every failure a user can cause ends as a one-line `PlateauError`: readers raise their own,
and the decoding errors that hostile bytes can still provoke are turned into one here.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

from plateau_cli.errors import BadInputError, CorruptFileError, PlateauError, UnknownFormatError
from plateau_cli.logs._encoding import temporary_directory, transcoded, utf16_encoding
from plateau_cli.logs._errors import no_epochs
from plateau_cli.logs._not_a_log import refuse_non_logs
from plateau_cli.logs.base import SNIFF_BYTES, LogRead, LogReader
from plateau_cli.registry import LOG_READERS, load
from plateau_cli.special_files import refuse_special

#: Formats that a file name suggests, by suffix (or by TensorBoard's file name prefix).
_HINTS = {
    ".csv": ("lightning-csv", "keras-csv"),
    ".tsv": ("keras-csv",),
    ".jsonl": ("jsonl",),
    ".ndjson": ("jsonl",),
    ".json": ("hf-trainer-state", "jsonl"),
}
#: Formats recognised by structure (a record header, a JSON key, a CSV header). The free-text
#: formats are always tried after them, whatever the name says: a `.log` may hold JSON lines.
_STRUCTURAL = ("tensorboard", "hf-trainer-state", "lightning-csv", "keras-csv", "jsonl")


def reader_class(name: str) -> type[LogReader]:
    """The reader class registered under `name` (imported now)."""
    return load(LOG_READERS[name])


def hinted(path: Path) -> tuple[str, ...]:
    if path.name.startswith("events.out.tfevents."):
        return ("tensorboard",)
    return _HINTS.get(path.suffix.lower(), ())


def sniff_order(path: Path) -> list[str]:
    hints = [h for h in hinted(path) if h in LOG_READERS and h in _STRUCTURAL]
    return hints + [name for name in LOG_READERS if name not in hints]


def read_log(path: Path, run: str | None = None) -> LogRead:
    """Read the log at `path` (a file or a run directory). `run` picks a TensorBoard run."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"{path}: no such file or directory")
    refuse_special(path, "a training log file or a run directory")
    note = None
    if path.is_dir():
        from plateau_cli.logs._resolve import resolve_directory

        resolved = resolve_directory(path)
        if resolved.tensorboard:
            return _checked(path, "tensorboard", run)
        path, note = resolved.path, resolved.note
    if run is not None and not path.name.startswith("events.out.tfevents."):
        note = "; ".join(
            filter(None, [note, f"--run {run!r} applies to TensorBoard runs only: ignored"])
        )
        run = None
    head = _head(path)
    encoding = utf16_encoding(head)
    if encoding is not None:
        with temporary_directory() as workdir:
            copy = transcoded(path, encoding, workdir)
            try:
                result = _checked(copy, detect_format(copy), run)
            except PlateauError as exc:  # name the user's file, not the temporary copy
                raise type(exc)(str(exc).replace(str(copy), str(path))) from None
        result = dataclasses.replace(result, path=path)
        note = "; ".join(filter(None, [note, f"read as {encoding.upper()} text"]))
    else:
        refuse_non_logs(path, head)
        format_name = detect_format(path)
        result = _checked(path, format_name, run)
    if note:
        history = dataclasses.replace(result.history, notes=(note, *result.history.notes))
        result = dataclasses.replace(result, history=history)
    return result


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


def detect_format(path: Path) -> str:
    """The registry name of the format of the file at `path`, sniffed from its first bytes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if not head.strip(b" \t\r\n\x00").lstrip(b"\xef\xbb\xbf"):
        raise BadInputError(f"{path}: the file is empty (has training logged anything yet?)")
    for name in sniff_order(path):
        try:
            if reader_class(name).sniff(path, head):
                return name
        except (ValueError, RecursionError, struct.error, UnicodeError):
            continue
    first = head.split(b"\n", 1)[0][:60].decode("utf-8", errors="replace")
    suggested = hinted(path)
    because = (
        f" (its name suggests {'/'.join(suggested)}, but the content does not match)"
        if suggested
        else ""
    )
    raise UnknownFormatError(
        f"{path}: not a training log format plateau-cli reads{because}; first line: {first!r};"
        f" formats read: {', '.join(LOG_READERS)}"
    )


def _checked(path: Path, format_name: str, run: str | None) -> LogRead:
    """Read with the chosen reader; make sure the result has per-epoch metrics."""
    reader = reader_class(format_name)()
    try:
        result = reader.read(path, run)
    except PlateauError:
        raise
    except (UnicodeError, RecursionError, struct.error, OverflowError, MemoryError) as exc:
        raise CorruptFileError(
            f"{path}: a damaged {format_name} file ({type(exc).__name__}: {str(exc)[:80]})"
        ) from None
    if not result.history.epochs:
        raise no_epochs(path, format_name, "nothing per epoch after reading")
    return result


__all__ = ["LogRead", "LogReader", "detect_format", "read_log", "reader_class"]
