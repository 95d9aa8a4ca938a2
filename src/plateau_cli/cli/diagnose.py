"""`plateau-cli diagnose`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plateau_cli.cli.app import app, print_json
from plateau_cli.cli.help import PlateauCommand
from plateau_cli.errors import ExitStatus


@app.command(cls=PlateauCommand)
def diagnose(
    path: Annotated[
        Path,
        typer.Argument(help="A training log, or a run directory (TensorBoard, Lightning, HF)."),
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
        str | None,
        typer.Option(help="TensorBoard run (sub-directory) to read; default the latest."),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write the curves with the findings marked to FILE.png.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model path to put into the suggested resume command.")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            help="Training data: its labels give the class count, and it goes into the"
            " suggested resume command."
        ),
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
        print_json(to_json(result))
    else:
        from plateau_cli.render.console import stdout_console
        from plateau_cli.render.diagnose import render_diagnosis

        render_diagnosis(stdout_console(), result, plot_path=plot)
    if result.diagnosis.actionable and not exit_zero:
        raise typer.Exit(int(ExitStatus.FINDINGS))
