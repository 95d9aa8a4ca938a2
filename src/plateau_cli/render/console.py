"""The consoles: stdout carries data (JSON), stderr carries everything meant for a person.

rich decides about colour by itself: NO_COLOR, FORCE_COLOR, TERM=dumb and non-TTY output are
all respected, so a CI log never fills with escape codes.
"""

from __future__ import annotations

from rich.console import Console
from rich.theme import Theme

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
