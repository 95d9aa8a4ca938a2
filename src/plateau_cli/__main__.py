"""`python -m plateau_cli` and the `plateau-cli` script: the same entry point, `run`.

Ctrl-C is exit 130 without a traceback from the first instant our code runs: importing the
command line (typer, rich) and later the frameworks takes a noticeable time, and a
KeyboardInterrupt raised there, before `cli.main` has installed its handlers, used to print a
page of import frames. (The interpreter's own start-up, before this module is imported, is
Python's: a Ctrl-C in those first few milliseconds still shows Python's traceback.)

The process ends with `os._exit(130)` once everything has unwound: CPython remembers a
KeyboardInterrupt that passed through an import and then ends the process by SIGINT itself
(status -2 instead of 130) even after a clean `SystemExit(130)`; measured with torch's import.
"""

from __future__ import annotations

import contextlib
import os
import sys

#: Same as plateau_cli.errors.ExitStatus.INTERRUPTED; not imported, so nothing runs first.
_INTERRUPTED = 130


def run() -> None:
    try:
        from plateau_cli.cli import main

        main()
    except KeyboardInterrupt:
        _say_interrupted()
        _exit_now(_INTERRUPTED)
    except SystemExit as exc:
        if exc.code == _INTERRUPTED:  # cli.main's own Ctrl-C handling
            _exit_now(_INTERRUPTED)
        raise


def _say_interrupted() -> None:
    with contextlib.suppress(OSError, ValueError, KeyboardInterrupt):
        sys.stderr.write("\ninterrupted\n")


def _exit_now(status: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, KeyboardInterrupt):
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
