"""`plateau-cli trial`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from plateau_cli.cli.app import app, print_json
from plateau_cli.cli.help import PlateauCommand
from plateau_cli.cli.options import (
    DATA_PANEL,
    TRAIN_PANEL,
    BatchSizeOpt,
    DeviceOpt,
    FactoryArg,
    ImageSizeOpt,
    ImportOpt,
    LossOpt,
    MinDeltaOpt,
    ModelFactory,
    OptimizerOpt,
    OutOpt,
    OutputOpt,
    OverwriteOpt,
    QuietOpt,
    TargetOpt,
    TrustPickle,
    ValSplitOpt,
    load_options,
    parse_image_size,
)
from plateau_cli.errors import ExitStatus


@app.command(cls=PlateauCommand)
def trial(
    model: Annotated[
        Path, typer.Argument(help="The saved model: .keras, .h5, .pt/.pth/.ckpt, ...")
    ],
    data: Annotated[
        str,
        typer.Option(
            help="Training data, as for resume (.npz, CSV, image folder, module:function).",
            rich_help_panel=DATA_PANEL,
            show_default=False,
        ),
    ],
    strategies: Annotated[
        str,
        typer.Option(
            help=(
                "Candidates, comma-separated (default: all nine strategies, auto aside);"
                " continuing unchanged always runs beside them."
            ),
            show_default=False,
        ),
    ] = "lr-decay,augment,widen,unfreeze,lr-find,rebalance,normalize,revive,regularize",
    budget_epochs: Annotated[
        int,
        typer.Option(
            min=1,
            help=(
                "Epochs the finalists train; earlier rungs are shorter and the worse half of"
                " the candidates stops after each (successive halving)."
            ),
        ),
    ] = 8,
    target: TargetOpt = None,
    val_split: ValSplitOpt = None,
    image_size: ImageSizeOpt = None,
    batch_size: BatchSizeOpt = None,
    monitor: Annotated[
        str, typer.Option(help="Metric the candidates are ranked on.", rich_help_panel=TRAIN_PANEL)
    ] = "val_loss",
    min_delta: MinDeltaOpt = 0.0,
    seed: Annotated[
        int,
        typer.Option(
            help="Random seed (every candidate gets the same).", rich_help_panel=TRAIN_PANEL
        ),
    ] = 0,
    out: OutOpt = None,
    overwrite: OverwriteOpt = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print trial.json's object on stdout.")
    ] = False,
    quiet: QuietOpt = False,
    require_improvement: Annotated[
        bool,
        typer.Option(
            "--require-improvement", help="Exit 1 when no strategy beats continuing unchanged."
        ),
    ] = False,
    trust_pickle: TrustPickle = False,
    imports: ImportOpt = None,
    model_factory: ModelFactory = None,
    factory_arg: FactoryArg = None,
    output: OutputOpt = None,
    loss: LossOpt = None,
    optimizer: OptimizerOpt = None,
    device: DeviceOpt = "auto",
    jobs: Annotated[
        int,
        typer.Option(
            min=1,
            help=(
                "Train each rung's candidates in N worker processes, side by side (the same"
                " results as one at a time); each worker gets cores/N threads, and with"
                " --device cuda and several GPUs its own GPU."
            ),
            rich_help_panel=TRAIN_PANEL,
        ),
    ] = 1,
) -> None:
    """Race the strategies against continuing unchanged from one checkpoint, and keep the winner.

    Every candidate resumes from the same checkpoint with the same seed; after each short rung
    the better half goes on (successive halving), the control always with them, so the winner
    is never worse than continuing unchanged. Writes the winner's checkpoint, trial.json,
    trial.md, trial.png (every candidate's curve) and each candidate's own resume report.
    """
    from plateau_cli.render.console import progress_observer, stderr_console, stdout_console
    from plateau_cli.render.progress import RichObserver
    from plateau_cli.report.trial_report import to_json, write_trial
    from plateau_cli.run.resume import ResumeRequest
    from plateau_cli.run.trial import check_strategies, run_trial

    names = check_strategies(strategies.split(","))
    request = ResumeRequest(
        model=model,
        strategy="continue",
        data=data,
        target=target,
        val_split=val_split,
        image_size=parse_image_size(image_size),
        epochs=budget_epochs,
        batch_size=batch_size,
        monitor=monitor,
        min_delta=min_delta,
        patience=None,
        seed=seed,
        out=out,
        load=load_options(
            trust_pickle,
            model_factory,
            factory_arg,
            loss,
            optimizer,
            None,
            device,
            output=output,
            imports=imports,
        ),
        command_line=("plateau-cli", *sys.argv[1:]),
        overwrite=overwrite,
    )
    console = stderr_console()
    observer = progress_observer(console, json_output=json_output, quiet=quiet)
    try:
        result = run_trial(request, names, budget_epochs, observer, jobs=jobs)
    finally:
        if isinstance(observer, RichObserver):
            observer.close()
    write_trial(result)
    if json_output:
        print_json(to_json(result))
    elif not quiet:
        from plateau_cli.render.trial import render_trial

        render_trial(stdout_console(), result)
    if result.interrupted:
        raise typer.Exit(int(ExitStatus.INTERRUPTED))
    if require_improvement and result.control_won:
        raise typer.Exit(int(ExitStatus.NOT_IMPROVED))
