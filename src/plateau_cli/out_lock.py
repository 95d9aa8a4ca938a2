"""One run at a time in an output directory: a lock file holding the writer's pid.

`flock(2)` rather than "create the file if absent": the kernel drops the lock when its holder
dies, SIGKILL and OOM kills included, so a stale lock file left by a dead run is simply taken
over (and rewritten with the new pid), with no pid-liveness guess and no race between two runs
that both found it stale. The pid in the file is only for the refusal message. A lock file is
unlinked on release; a run that locked a file someone has since unlinked and replaced tries
again on the new one, so two runs can never both hold "the" lock.

Where `fcntl` does not exist (Windows) no lock is taken: the directory checks of
plateau_cli.out_claim still refuse another run's finished artefacts.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from plateau_cli.errors import OutputError, UsageError
from plateau_cli.out_claim import LOCK_NAME

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def holder_pid(out_dir: Path) -> int | None:
    """The pid written in `out_dir`'s lock file, if any (for messages and tests)."""
    try:
        text = (out_dir / LOCK_NAME).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _acquire(path: Path) -> int:
    """Open and flock `path`; return the fd, or raise UsageError naming the holder."""
    assert fcntl is not None
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = holder_pid(path.parent)
            who = f" (pid {pid})" if pid else ""
            raise UsageError(
                f"--out {path.parent}: another plateau-cli run{who} is writing there; wait for"
                " it to finish or choose another --out"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            return fd
        os.close(fd)  # released and unlinked by its holder meanwhile: lock the new file


@contextlib.contextmanager
def out_lock(out_dir: Path) -> Iterator[None]:
    """Hold `out_dir`'s lock for the block; a directory made only for the lock is removed."""
    from plateau_cli.run.distributed import is_main

    if not is_main():  # under torchrun rank 0 holds the lock and writes; the others never do
        yield
        return
    absolute = out_dir.absolute()
    made = [p for p in (absolute, *absolute.parents) if not p.exists()]  # deepest first
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out_dir}: {exc.strerror or exc}") from exc
    path = out_dir / LOCK_NAME
    fd = None
    try:
        if fcntl is not None:
            try:
                fd = _acquire(path)
            except OSError as exc:
                raise OutputError(f"cannot lock {path}: {exc.strerror or exc}") from exc
        yield
    finally:
        if fd is not None:
            with contextlib.suppress(OSError):
                path.unlink()
            os.close(fd)
        for folder in made:  # only while empty: the run wrote nothing there
            try:
                folder.rmdir()
            except OSError:
                break
