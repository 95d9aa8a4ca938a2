"""The command line: parse options, call the core, render for people or as JSON.

This package (with render/) is the only code that knows about typer and rich: `app` holds the
typer app and `main`, the one function that maps outcomes to exit statuses; each command lives
in a module of its name. Nothing heavy is imported at module level: `--help` and `diagnose`
must start without TensorFlow or PyTorch.
"""

from plateau_cli.cli import diagnose, inspect, resume, trial  # noqa: F401 - registers the commands
from plateau_cli.cli.app import app, main

__all__ = ["app", "main"]
