"""`plateau-cli resume` (and `resume --continue`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from plateau_cli.cli.app import app, print_json
from plateau_cli.cli.help import PlateauCommand, complete_strategy
from plateau_cli.cli.options import (
    DATA_PANEL,
    LR_PANEL,
    TRAIN_PANEL,
    BatchSizeOpt,
    DeviceOpt,
    DistributeOpt,
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
    SyncBatchNormOpt,
    TargetOpt,
    TrustPickle,
    ValSplitOpt,
    load_options,
    parse_image_size,
)
from plateau_cli.cli.strategy_options import (
    AugmentOpt,
    BakeOpt,
    BaseLrMultOpt,
    CooldownOpt,
    CopiesOpt,
    DropoutOpt,
    EndLrOpt,
    FactorOpt,
    GammaOpt,
    GradualOpt,
    InitOpt,
    InitScaleOpt,
    LayerOpt,
    LayersOpt,
    LrMultOpt,
    LrPatienceOpt,
    MinLrOpt,
    MixupOpt,
    NoiseOpt,
    NormalizeRateOpt,
    NoRollbackOpt,
    PickOpt,
    RebalanceModeOpt,
    ScheduleOpt,
    SmoothingOpt,
    StartLrOpt,
    StepSizeOpt,
    StepsOpt,
    ToleranceOpt,
    TrainBnOpt,
    UnitsOpt,
    WeightDecayOpt,
)
from plateau_cli.errors import ExitStatus, NothingToChange, UsageError


@app.command(cls=PlateauCommand)
def resume(
    ctx: typer.Context,
    model: Annotated[
        Path | None,
        typer.Argument(
            help="The saved model: .keras, .h5, .pt/.pth/.ckpt, ... (not with --continue)",
            show_default=False,
        ),
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            help="lr-decay, lr-find, augment, widen, unfreeze, rebalance, normalize, revive,"
            " regularize, or auto.",
            show_default=False,
            autocompletion=complete_strategy,
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            help="An .npz, a CSV (with --target), an image folder, or module:function.",
            rich_help_panel=DATA_PANEL,
            show_default=False,
        ),
    ] = None,
    log: Annotated[
        Path | None,
        typer.Option(
            help=(
                "The run's log: the baseline must agree with it (else exit 2); auto uses its"
                " diagnosis."
            ),
            show_default=False,
        ),
    ] = None,
    continue_from: Annotated[
        Path | None,
        typer.Option(
            "--continue",
            help=("Go on with an interrupted run from its --out (name its code again)."),
            show_default=False,
        ),
    ] = None,
    target: TargetOpt = None,
    val_split: ValSplitOpt = None,
    image_size: ImageSizeOpt = None,
    epochs: Annotated[
        int, typer.Option(min=1, help="Epochs to resume for.", rich_help_panel=TRAIN_PANEL)
    ] = 10,
    batch_size: BatchSizeOpt = None,
    monitor: Annotated[
        str,
        typer.Option(
            help="Metric for early stopping and the verdict.", rich_help_panel=TRAIN_PANEL
        ),
    ] = "val_loss",
    min_delta: MinDeltaOpt = 0.0,
    patience: Annotated[
        int,
        typer.Option(
            min=1,
            help="Stop after N epochs without improvement.",
            rich_help_panel=TRAIN_PANEL,
        ),
    ] = 5,
    seed: Annotated[
        int,
        typer.Option(
            help="Random seed (a CPU re-run repeats the numbers).", rich_help_panel=TRAIN_PANEL
        ),
    ] = 0,
    out: OutOpt = None,
    full_train_eval: Annotated[
        bool,
        typer.Option(
            "--full-train-eval",
            help=("Baseline training loss on every example (default: a sample of 2048)."),
            rich_help_panel=TRAIN_PANEL,
        ),
    ] = False,
    overwrite: OverwriteOpt = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print report.json's object on stdout.")
    ] = False,
    quiet: QuietOpt = False,
    require_improvement: Annotated[
        bool,
        typer.Option(
            "--require-improvement",
            help="Exit 1 when the monitored metric did not improve on the baseline.",
        ),
    ] = False,
    trust_pickle: TrustPickle = False,
    imports: ImportOpt = None,
    model_factory: ModelFactory = None,
    factory_arg: FactoryArg = None,
    output: OutputOpt = None,
    loss: LossOpt = None,
    optimizer: OptimizerOpt = None,
    lr: Annotated[
        float | None,
        typer.Option(
            help="lr-decay: the new rate (instead of --factor); else a rate to set.",
            rich_help_panel=LR_PANEL,
        ),
    ] = None,
    device: DeviceOpt = "auto",
    factor: FactorOpt = None,
    schedule: ScheduleOpt = None,
    min_lr: MinLrOpt = None,
    lr_patience: LrPatienceOpt = None,
    cooldown: CooldownOpt = None,
    step_size: StepSizeOpt = None,
    gamma: GammaOpt = None,
    units: UnitsOpt = None,
    layer: LayerOpt = None,
    init: InitOpt = None,
    noise: NoiseOpt = None,
    layers: LayersOpt = None,
    gradual: GradualOpt = False,
    base_lr_mult: BaseLrMultOpt = None,
    train_bn: TrainBnOpt = False,
    augment: AugmentOpt = None,
    mixup: MixupOpt = None,
    copies: CopiesOpt = None,
    bake: BakeOpt = False,
    lr_mult: LrMultOpt = None,
    start_lr: StartLrOpt = None,
    end_lr: EndLrOpt = None,
    steps: StepsOpt = None,
    pick: PickOpt = None,
    smoothing: SmoothingOpt = None,
    rebalance_mode: RebalanceModeOpt = None,
    tolerance: ToleranceOpt = None,
    normalize_rate: NormalizeRateOpt = None,
    init_scale: InitScaleOpt = None,
    weight_decay: WeightDecayOpt = None,
    dropout: DropoutOpt = None,
    no_rollback: NoRollbackOpt = False,
    distribute: DistributeOpt = None,
    sync_batchnorm: SyncBatchNormOpt = False,
) -> None:
    """Resume training from a saved model with one targeted change, and report whether it worked.

    Writes the new checkpoint, report.md, report.json, history.csv and curves.png into --out,
    never over MODEL. Exit 1 with --require-improvement when the metric did not improve; 130
    when interrupted (go on with --continue OUT).
    """
    from plateau_cli.render.console import progress_observer, stderr_console
    from plateau_cli.render.progress import RichObserver
    from plateau_cli.run.resume import ResumeRequest, run_resume
    from plateau_cli.run.resume_continue import continue_resume
    from plateau_cli.strategies import build_strategy

    console = stderr_console()
    observer = progress_observer(console, json_output=json_output, quiet=quiet)
    if continue_from is not None:
        _check_continue_options(ctx, model)
        try:
            report = continue_resume(
                continue_from,
                observer,
                trust_pickle=trust_pickle,
                device=device if _given(ctx, "device") else None,
                command_line=("plateau-cli", *sys.argv[1:]),
                given=_given_again(ctx, model_factory, factory_arg, data),
                imports=tuple(imports or ()),
            )
        finally:
            if isinstance(observer, RichObserver):
                observer.close()
        _finish_resume(report, console, json_output, quiet, require_improvement)
        return
    if model is None:
        raise UsageError("missing argument MODEL (or use --continue OUT_DIR)")
    if strategy is None:
        raise UsageError("missing option --strategy (lr-decay, augment, widen, unfreeze or auto)")
    if data is None:
        raise UsageError(
            "missing option --data (an .npz, a CSV, an image folder or module:function)"
        )

    given = {
        k: v
        for k, v in {
            "factor": factor,
            "schedule": schedule,
            "min_lr": min_lr,
            "lr_patience": lr_patience,
            "cooldown": cooldown,
            "step_size": step_size,
            "gamma": gamma,
            "units": units,
            "layer": layer,
            "init": init,
            "noise": noise,
            "layers": layers,
            "gradual": gradual or None,
            "base_lr_mult": base_lr_mult,
            "train_bn": train_bn or None,
            "augment": augment,
            "mixup": mixup,
            "copies": copies,
            "bake": bake or None,
            "lr_mult": lr_mult,
            "start_lr": start_lr,
            "end_lr": end_lr,
            "steps": steps,
            "pick": pick,
            "smoothing": smoothing,
            "rebalance_mode": rebalance_mode,
            "tolerance": tolerance,
            "normalize_rate": normalize_rate,
            "init_scale": init_scale,
            "weight_decay": weight_decay,
            "dropout": dropout,
            "rollback": False if no_rollback else None,
        }.items()
        if v is not None
    }
    if strategy == "lr-decay" and lr is not None:
        given["lr"] = lr
    chosen = None if strategy == "auto" else build_strategy(strategy, given)
    request = ResumeRequest(
        model=model,
        strategy=strategy,
        data=data,
        strategy_options=given,
        target=target,
        val_split=val_split,
        image_size=parse_image_size(image_size),
        epochs=epochs,
        batch_size=batch_size,
        monitor=monitor,
        min_delta=min_delta,
        patience=patience,
        seed=seed,
        out=out,
        load=load_options(
            trust_pickle,
            model_factory,
            factory_arg,
            loss,
            optimizer,
            lr,
            device,
            output=output,
            imports=imports,
            distribute=distribute,
            sync_batchnorm=sync_batchnorm,
        ),
        command_line=("plateau-cli", *sys.argv[1:]),
        log=log,
        full_train_eval=full_train_eval,
        overwrite=overwrite,
    )
    try:
        report = run_resume(request, observer, strategy=chosen)
    except NothingToChange as exc:
        if json_output:  # a script reading stdout still gets one document
            print_json(nothing_to_change_json(exc))
        raise
    finally:
        if isinstance(observer, RichObserver):
            observer.close()
    _finish_resume(report, console, json_output, quiet, require_improvement)


#: What `--continue` accepts again; everything else comes from the interrupted run's report.
_CONTINUE_OPTIONS = frozenset(
    {
        "continue_from",
        "json_output",
        "quiet",
        "require_improvement",
        "trust_pickle",
        "device",
        # Code a report names runs only when the user names it again (run.continue_checks).
        "model_factory",
        "factory_arg",
        "data",
        "imports",
    }
)


def _given_again(
    ctx: typer.Context, model_factory: str | None, factory_arg: list[str] | None, data: str | None
) -> Any:
    from plateau_cli.entry_points import parse_factory_args
    from plateau_cli.run.continue_checks import GivenAgain

    return GivenAgain(
        model_factory=model_factory,
        factory_args=parse_factory_args(factory_arg) if _given(ctx, "factory_arg") else None,
        data=data,
    )


def _given(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def _check_continue_options(ctx: typer.Context, model: Path | None) -> None:
    extra = [n for n in ctx.params if n not in _CONTINUE_OPTIONS and _given(ctx, n)]
    if model is not None or extra:
        shown = ["MODEL"] if model is not None else []
        shown += ["--" + n.replace("_", "-") for n in extra]
        raise UsageError(
            f"--continue takes the run's settings from its report.json; drop {', '.join(shown)}"
        )


def _finish_resume(
    report: Any, console: Any, json_output: bool, quiet: bool, require_improvement: bool
) -> None:
    if json_output:
        from plateau_cli.report.json_report import to_json

        print_json(to_json(report))
    elif not quiet:
        from plateau_cli.render.console import stdout_console
        from plateau_cli.render.resume import render_summary

        render_summary(stdout_console(), report)
    if report.interrupted:
        from plateau_cli.render.resume import render_go_on

        render_go_on(console, report)
        raise typer.Exit(int(ExitStatus.INTERRUPTED))
    if require_improvement and not report.improved:
        raise typer.Exit(int(ExitStatus.NOT_IMPROVED))


def nothing_to_change_json(exc: NothingToChange) -> dict[str, Any]:
    """`--json` when auto trains nothing: its decision, and that nothing was written."""
    return {
        "schema_version": 1,
        "trained": False,
        "written": False,
        "message": exc.message,
        "strategy": None,
        "auto": exc.decision,
    }
