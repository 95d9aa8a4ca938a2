"""The command line: parse options, call the core, render for people or as JSON.

This module (with render/) is the only place that knows about typer and rich. Errors raised by
the core are `PlateauError`s carrying an exit status; `main()` is the one function that turns
them into one line on stderr and an exit code. Nothing heavy is imported at module level:
`--help` and `diagnose` must start without TensorFlow or PyTorch.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import typer

from plateau_cli import __version__
from plateau_cli.errors import ExitStatus, PlateauError, UsageError

#: Exit status for a bug in plateau-cli itself (sysexits' EX_SOFTWARE), kept apart from 1
#: (findings / not improved) so a script never mistakes a crash for a verdict.
EXIT_INTERNAL_ERROR = 70

app = typer.Typer(
    name="plateau-cli",
    help=(
        "Say why training stalled, and resume a saved Keras or PyTorch model with one targeted"
        " change.\n\nExit codes: 0 success, 1 findings (diagnose) or not improved"
        " (--require-improvement), 2 bad input, 130 interrupted."
    ),
    no_args_is_help=True,
    add_completion=False,
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


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


@app.command()
def diagnose(
    path: Annotated[
        Path, typer.Argument(help="A training log, or a run directory (TensorBoard, Lightning, HF).")
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout (schema_version 1).")
    ] = False,
    monitor: Annotated[
        str | None,
        typer.Option(help="Metric to judge (default: val_loss, else loss). Mode from its name."),
    ] = None,
    patience: Annotated[
        int, typer.Option(min=1, help="Epochs without improvement that make a plateau (as Keras).")
    ] = 5,
    min_delta: Annotated[
        float, typer.Option(min=0.0, help="Smallest change that counts as an improvement.")
    ] = 0.0,
    num_classes: Annotated[
        int | None,
        typer.Option(min=2, help="Number of classes, for the chance-level checks (else inferred)."),
    ] = None,
    run: Annotated[
        str | None, typer.Option(help="TensorBoard run (sub-directory) to read; default the latest.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write the curves with the findings marked to FILE.png.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model path to put into the suggested resume command.")
    ] = None,
    data: Annotated[
        str | None, typer.Option(help="Data path to put into the suggested resume command.")
    ] = None,
    exit_zero: Annotated[
        bool, typer.Option("--exit-zero", help="Exit 0 even when there are findings.")
    ] = False,
) -> None:
    """Read a training log and say why it stalled, with the evidence and what to do next.

    Exit 0 when nothing needs action, 1 when findings were reported, 2 for bad input.
    """
    from plateau_cli.diagnose import DiagnoseOptions, diagnose_log, to_json

    options = DiagnoseOptions(
        monitor=monitor, patience=patience, min_delta=min_delta, num_classes=num_classes
    )
    result = diagnose_log(path, options, run=run, model=model, data=data)
    if plot is not None:
        from plateau_cli.diagnose.plot import write_plot

        write_plot(plot, result)
    if json_output:
        _print_json(to_json(result))
    else:
        from plateau_cli.render.console import stderr_console
        from plateau_cli.render.diagnose import render_diagnosis

        render_diagnosis(stderr_console(), result, plot_path=plot)
    if result.diagnosis.actionable and not exit_zero:
        raise typer.Exit(int(ExitStatus.FINDINGS))


def _fail(message: str, status: int) -> NoReturn:
    from plateau_cli.render.console import stderr_console

    console = stderr_console()
    console.print(f"[error]error:[/error] {message}", markup=True, soft_wrap=True, highlight=False)
    raise SystemExit(status)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map every outcome to an exit status, in one place."""
    command = typer.main.get_command(app)
    try:
        status = command.main(args=argv, prog_name="plateau-cli", standalone_mode=False)
    except PlateauError as exc:
        if os.environ.get("PLATEAU_TRACEBACK"):
            raise
        _fail(_escape(exc.message), int(exc.exit_status))
    except click.exceptions.Abort:
        # click turns KeyboardInterrupt into Abort; Ctrl-C is 130 even during start-up.
        sys.stderr.write("\ninterrupted\n")
        raise SystemExit(int(ExitStatus.INTERRUPTED)) from None
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        raise SystemExit(int(ExitStatus.INTERRUPTED)) from None
    except click.exceptions.ClickException as exc:
        context = exc.ctx.command_path if getattr(exc, "ctx", None) else "plateau-cli"  # type: ignore[attr-defined]
        message = exc.format_message().replace("\n", " ")
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


__all__ = ["UsageError", "app", "main"]
