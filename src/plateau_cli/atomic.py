"""Atomic writes: a reader (or a killed run) sees the old complete file or the new one, never half.

Every artefact goes through here: write into a temporary file in the destination's own
directory (so the rename cannot cross file systems), flush, fsync, `os.replace`, then fsync the
directory so the rename itself survives a crash. Errors such as a full disk or a read-only
directory become an `OutputError` with one clear line, and the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from plateau_cli.errors import OutputError

TEMP_PREFIX = ".plateau-tmp-"


def _describe_os_error(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"cannot write {path}: no space left on device (the input is untouched)"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"cannot write {path}: permission denied or read-only file system; choose another --out"
        )
    return f"cannot write {path}: {exc.strerror or exc}"


def fsync_dir(directory: Path) -> None:
    """Make a rename durable; a no-op where directories cannot be opened (Windows)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` atomically.

    For writers that insist on a file name of their own (`model.save(...)`, `torch.save`), the
    temporary name keeps the destination's suffix so format detection by extension still works.
    """
    path = Path(path)
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=TEMP_PREFIX, suffix=suffix if suffix is not None else path.suffix, dir=directory
        )
        os.close(fd)
    except OSError as exc:
        raise OutputError(_describe_os_error(path, exc)) from exc
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(directory)
    except OSError as exc:
        _remove_quietly(tmp)
        raise OutputError(_describe_os_error(path, exc)) from exc
    except BaseException:
        _remove_quietly(tmp)
        raise


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir():
            import shutil

            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_with(path: Path, writer: Callable[[IO[str]], None]) -> None:
    """Atomically write text produced by `writer(file_object)` (csv.writer, json.dump...)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer(fh)
        fh.flush()


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete temporary files a killed earlier run left behind; return what was removed."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for child in directory.iterdir():
        if child.name.startswith(TEMP_PREFIX):
            _remove_quietly(child)
            removed.append(child)
    return removed
