"""The typer app and `main`: the one place where outcomes become exit statuses.

Errors raised by the core are `PlateauError`s carrying an exit status; `main()` turns them into
one line on stderr and that code, Ctrl-C into 130, and anything else (a bug) into a traceback
and 70, so a script never mistakes a crash for a verdict.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Annotated, Any, NoReturn

import typer

from plateau_cli import __version__
from plateau_cli.cli.help import PlateauGroup
from plateau_cli.errors import ExitStatus, PlateauError

#: Exit status for a bug in plateau-cli itself (sysexits' EX_SOFTWARE), kept apart from 1
#: (findings / not improved) so a script never mistakes a crash for a verdict.
EXIT_INTERNAL_ERROR = 70

app = typer.Typer(
    name="plateau-cli",
    cls=PlateauGroup,
    help=(
        "Say why training stalled, and resume a saved Keras or PyTorch model with one targeted"
        " change.\n\nExit codes: 0 success, 1 findings (diagnose) or not improved"
        " (--require-improvement), 2 bad input, 130 interrupted."
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"plateau-cli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Say why training stalled, and resume a saved model with one targeted change."""


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


def _click_class(name: str) -> type[Exception] | None:
    try:
        import click
    except ImportError:
        return None
    return getattr(click.exceptions, name, None)


# typer >= 0.2x runs on its own copy of click (`typer._click`, exceptions derived from
# `typer.TyperException`) and no longer installs click; older typer raises click's own
# exceptions. Catching only click's let every usage error (a bad --epochs, a missing option)
# through as an internal error with a traceback, so both families are caught.
_USAGE_ERRORS: tuple[type[Exception], ...] = tuple(
    cls for cls in (getattr(typer, "TyperException", None), _click_class("ClickException")) if cls
)
_ABORTS: tuple[type[BaseException], ...] = tuple(
    {cls for cls in (typer.Abort, _click_class("Abort")) if cls}
)


def _fail(message: str, status: int) -> NoReturn:
    from plateau_cli.render.console import stderr_console

    console = stderr_console()
    console.print(f"[error]error:[/error] {message}", markup=True, soft_wrap=True, highlight=False)
    raise SystemExit(status)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map every outcome to an exit status, in one place."""
    from plateau_cli.run.distributed import silence_other_ranks

    silence_other_ranks()  # under torchrun only rank 0 prints
    command = typer.main.get_command(app)
    try:
        status = command.main(args=argv, prog_name="plateau-cli", standalone_mode=False)
    except PlateauError as exc:
        if os.environ.get("PLATEAU_TRACEBACK"):
            raise
        if exc.exit_status == ExitStatus.SUCCESS:  # a decision, not a failure (NothingToChange)
            sys.stderr.write(exc.message + "\n")
            raise SystemExit(0) from None
        _fail(_escape(exc.message), int(exc.exit_status))
    except (KeyboardInterrupt, *_ABORTS):
        # click turns KeyboardInterrupt into Abort; Ctrl-C is 130 even during start-up.
        sys.stderr.write("\ninterrupted\n")
        raise SystemExit(int(ExitStatus.INTERRUPTED)) from None
    except _USAGE_ERRORS as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `plateau-cli` alone: show the help
            sys.stderr.write(exc.format_message() + "\n")  # type: ignore[attr-defined]
            raise SystemExit(int(ExitStatus.BAD_INPUT)) from None
        context = exc.ctx.command_path if getattr(exc, "ctx", None) else "plateau-cli"  # type: ignore[attr-defined]
        message = exc.format_message().replace("\n", " ")  # type: ignore[attr-defined]
        _fail(_escape(f"{message} (see '{context} --help')"), int(ExitStatus.BAD_INPUT))
    except BrokenPipeError:
        # `plateau-cli ... | head`: the reader went away; not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None
    except Exception:
        traceback.print_exc()
        sys.stderr.write(
            "plateau-cli hit an internal error (a bug, not your input): please report it with the"
            " traceback above.\n"
        )
        raise SystemExit(EXIT_INTERNAL_ERROR) from None
    raise SystemExit(status if isinstance(status, int) else 0)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
