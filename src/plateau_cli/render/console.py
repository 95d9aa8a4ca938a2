"""The consoles: stdout carries a command's result, stderr the progress around it.

The result (the diagnosis, inspect's tables, resume's and trial's summary, or the one --json
document) goes to stdout, so `plateau-cli diagnose run.log > diag.txt` and `| less` hold it;
spinners, per-epoch lines, warnings and errors go to stderr, as pip, gh and kubectl do.

rich decides about colour by itself: NO_COLOR, FORCE_COLOR, TERM=dumb and non-TTY output are
all respected, so a CI log never fills with escape codes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.theme import Theme

if TYPE_CHECKING:
    from plateau_cli.observer import Observer

THEME = Theme(
    {
        "info": "cyan",
        "warning": "yellow",
        "error": "bold red",
        "good": "green",
        "bad": "red",
        "muted": "dim",
        "metric": "bold",
    }
)


def stderr_console() -> Console:
    return Console(stderr=True, theme=THEME, highlight=False)


def stdout_console() -> Console:
    return Console(theme=THEME, highlight=False)


def progress_observer(console: Console, *, json_output: bool, quiet: bool) -> Observer:
    """What reports progress: with --json too, as long as stderr is a terminal (a person
    watching); a pipe or a CI log under --json gets nothing but the warnings' absence."""
    from plateau_cli.observer import NullObserver
    from plateau_cli.render.progress import RichObserver

    if json_output and not console.is_terminal:
        return NullObserver()
    return RichObserver(console, quiet=quiet)


@contextmanager
def waiting(console: Console, text: str) -> Iterator[None]:
    """A transient spinner while something slow runs (a framework import), on a terminal only:
    a pipe or a CI log gets nothing, and the spinner is gone before the result prints."""
    if not console.is_terminal:
        yield
        return
    with console.status(f"{text}…"):
        yield
