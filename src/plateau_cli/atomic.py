"""Atomic writes: a reader (or a killed run) sees the old complete file or the new one, never half.

Every artefact goes through here: write into a temporary file in the destination's own
directory (so the rename cannot cross file systems), flush, fsync, `os.replace`, then fsync the
directory so the rename itself survives a crash. Errors such as a full disk or a read-only
directory become an `OutputError` with one clear line, and the temporary file is removed.

Two things measured on a real full file system (a 12 KiB tmpfs): `torch.save` reports running
out of space as a `RuntimeError` from its C++ writer ("basic_ios::clear: iostream error",
"unexpected pos"), never as an OSError; so a writer's failure is checked against the free
space left before it is let through as a bug. And `tempfile.mkstemp` creates files readable
by their owner only: the artefacts get the mode a plain `open()` would give them (the umask's),
so the next step of a CI job running as another user can read them.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from plateau_cli.errors import OutputError

TEMP_PREFIX = ".plateau-tmp-"
#: A writer that fails while less than this is free on the destination's file system ran out
#: of space, whatever exception its library chose to report it with.
LOW_SPACE_BYTES = 1 << 20


def _describe_os_error(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"cannot write {path}: no space left on device (the input is untouched)"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):  # mkdir where a file stands
        return f"cannot write {path}: a part of its directory path is a file, not a directory"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"cannot write {path}: permission denied or read-only file system; choose another --out"
        )
    return f"cannot write {path}: {exc.strerror or exc}"


@functools.cache
def _umask() -> int:
    """The process umask (read once: `os.umask` can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    """The mode `open(path, "w")` would give: the existing file's, else 0o666 less the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _out_of_space(directory: Path) -> bool:
    try:
        stats = os.statvfs(directory)
    except (OSError, AttributeError):  # AttributeError: no statvfs (Windows)
        return False
    return stats.f_bavail * stats.f_frsize < LOW_SPACE_BYTES


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
        os.chmod(tmp_name, _mode_for(path))
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
    except Exception as exc:
        full = _out_of_space(directory)  # measured before the temporary file is freed
        _remove_quietly(tmp)
        if full:
            raise OutputError(
                f"cannot write {path}: no space left on device ({type(exc).__name__}:"
                f" {_first_line(exc)}); the input is untouched"
            ) from exc
        raise
    except BaseException:
        _remove_quietly(tmp)
        raise


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


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
