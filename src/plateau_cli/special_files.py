"""Refuse FIFOs, devices and sockets where a file is expected, before anything opens them.

Opening a named pipe for reading blocks until a writer appears (forever, for a user who typed
the wrong name), and a character device such as /dev/zero never ends. Logs and checkpoints are
regular files (or directories of them), so anything else is refused at once with what it is.
"""

from __future__ import annotations

import stat
from pathlib import Path

from plateau_cli.errors import BadInputError

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def refuse_special(path: Path, expected: str) -> None:
    """Raise when `path` exists and is neither a regular file nor a directory."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # missing or unreadable: the caller's own check words it
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise BadInputError(
        f"{path}: is {kind}, not a regular file; expected {expected} (reading it could block"
        " forever or never end)"
    )
