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


LOAD_PANEL = "Loading the checkpoint"
TRAIN_PANEL = "Training"
DATA_PANEL = "Data"
LR_PANEL = "lr-decay options"
WIDEN_PANEL = "widen options"
UNFREEZE_PANEL = "unfreeze options"
AUGMENT_PANEL = "augment options"


def _load_options(
    trust_pickle: bool,
    model_factory: str | None,
    factory_arg: list[str] | None,
    loss: str | None,
    optimizer: str | None,
    lr: float | None,
    device: str,
) -> Any:
    from plateau_cli.adapters.base import LoadOptions
    from plateau_cli.entry_points import parse_factory_args

    return LoadOptions(
        trust_pickle=trust_pickle,
        model_factory=model_factory,
        factory_args=parse_factory_args(factory_arg or []),
        loss=loss,
        optimizer=optimizer,
        lr=lr,
        device=device,
    )


TrustPickle = Annotated[
    bool,
    typer.Option(
        "--trust-pickle",
        help=(
            "Allow loading that can run code stored in the file (full pickled torch modules,"
            " Keras Lambda layers). Only for checkpoints you made yourself: a checkpoint from"
            " elsewhere can run any command when unpickled."
        ),
        rich_help_panel=LOAD_PANEL,
    ),
]
ModelFactory = Annotated[
    str | None,
    typer.Option(
        help="PyTorch: 'module:callable' or 'path/file.py:callable' that builds the nn.Module.",
        rich_help_panel=LOAD_PANEL,
    ),
]
FactoryArg = Annotated[
    list[str] | None,
    typer.Option(
        help="key=value passed to --model-factory (values are Python literals); repeatable.",
        rich_help_panel=LOAD_PANEL,
    ),
]
LossOpt = Annotated[
    str | None,
    typer.Option(
        help="Loss for a model saved without one (e.g. sparse_categorical_crossentropy).",
        rich_help_panel=LOAD_PANEL,
    ),
]
OptimizerOpt = Annotated[
    str | None,
    typer.Option(
        help="Optimizer when the checkpoint has none (adam, sgd, ...), or to override its class.",
        rich_help_panel=LOAD_PANEL,
    ),
]
DeviceOpt = Annotated[
    str,
    typer.Option(help="PyTorch device: auto, cpu, cuda or mps.", rich_help_panel=LOAD_PANEL),
]


@app.command()
def inspect(
    model: Annotated[Path, typer.Argument(help="A checkpoint: .keras, .h5, .pt/.pth/.ckpt, ...")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout (schema_version 1).")
    ] = False,
    trust_pickle: TrustPickle = False,
    model_factory: ModelFactory = None,
    factory_arg: FactoryArg = None,
    device: DeviceOpt = "cpu",
    data: Annotated[
        str | None,
        typer.Option(
            help=(
                "Also evaluate on this data and count dead ReLU units (output 0 on every"
                " training sample: no learning rate revives them)."
            ),
            rich_help_panel=DATA_PANEL,
            show_default=False,
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="CSV: the label column.", rich_help_panel=DATA_PANEL)
    ] = None,
    val_split: Annotated[
        float | None,
        typer.Option(help="Share held out for validation.", rich_help_panel=DATA_PANEL),
    ] = None,
    image_size: Annotated[
        str | None,
        typer.Option(
            help="Image folders: HxW when the model does not say.", rich_help_panel=DATA_PANEL
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Batch size for --data.", rich_help_panel=DATA_PANEL)
    ] = 64,
) -> None:
    """Show what a checkpoint contains: layers, frozen parameters, optimizer and its state.

    With --data, also the training and validation loss and the dead ReLU units per layer.
    """
    from plateau_cli.adapters.sniff import sniff_checkpoint
    from plateau_cli.frameworks import load_handle
    from plateau_cli.inspection import describe_to_json, probe_to_json, probe_with_data
    from plateau_cli.outputs import sha256_of

    sniffed = sniff_checkpoint(model)
    options = _load_options(trust_pickle, model_factory, factory_arg, None, None, None, device)
    spec = None
    if data is not None:
        from plateau_cli.data import parse_data_spec

        spec = parse_data_spec(data, target=target, val_split=val_split, seed=0)
    from plateau_cli.resume import check_load_options

    check_load_options(sniffed.framework, options)
    handle = load_handle(model, options)
    probe = (
        probe_with_data(handle, spec, _parse_image_size(image_size), batch_size)
        if spec is not None
        else None
    )
    description = handle.describe()
    if json_output:
        _print_json(
            describe_to_json(description, sha256_of(model)) | {"data": probe_to_json(probe)}
        )
    else:
        from plateau_cli.render.console import stderr_console
        from plateau_cli.render.inspect import render_inspect, render_probe

        console = stderr_console()
        render_inspect(console, description)
        if probe is not None:
            render_probe(console, probe)


@app.command()
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
            help=(
                "The change to make: lr-decay, augment, widen, unfreeze, or auto (chosen from"
                " the checkpoint, the data and --log)."
            ),
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            help=(
                "Training data: an .npz (x_train, y_train, x_val, y_val), a CSV (with --target),"
                " an image folder, or 'module:function' returning (train, val)."
            ),
            rich_help_panel=DATA_PANEL,
            show_default=False,
        ),
    ] = None,
    log: Annotated[
        Path | None,
        typer.Option(
            help=(
                "--strategy auto: the run's training log (any format diagnose reads, or an"
                " earlier history.csv); without it auto decides from the checkpoint and data."
            ),
            show_default=False,
        ),
    ] = None,
    continue_from: Annotated[
        Path | None,
        typer.Option(
            "--continue",
            help=(
                "Go on with an interrupted run from its output directory: its last completed"
                " epoch, its settings, its report (only --trust-pickle, --device, --json, --quiet"
                " and --require-improvement may be given again)."
            ),
            show_default=False,
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="CSV: the label column.", rich_help_panel=DATA_PANEL)
    ] = None,
    val_split: Annotated[
        float | None,
        typer.Option(
            help="Share held out for validation when the data has no split.",
            rich_help_panel=DATA_PANEL,
        ),
    ] = None,
    image_size: Annotated[
        str | None,
        typer.Option(
            help="Image folders: HxW when the model does not say (e.g. 64x64).",
            rich_help_panel=DATA_PANEL,
        ),
    ] = None,
    epochs: Annotated[
        int, typer.Option(min=1, help="Epochs to resume for.", rich_help_panel=TRAIN_PANEL)
    ] = 10,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Batch size.", rich_help_panel=TRAIN_PANEL)
    ] = 32,
    monitor: Annotated[
        str,
        typer.Option(
            help="Metric for early stopping and the verdict.", rich_help_panel=TRAIN_PANEL
        ),
    ] = "val_loss",
    min_delta: Annotated[
        float,
        typer.Option(
            min=0.0, help="Smallest change that counts as improvement.", rich_help_panel=TRAIN_PANEL
        ),
    ] = 0.0,
    patience: Annotated[
        int,
        typer.Option(
            min=1,
            help="Early stopping: epochs without improvement before stopping (best weights kept).",
            rich_help_panel=TRAIN_PANEL,
        ),
    ] = 5,
    seed: Annotated[
        int,
        typer.Option(
            help="Random seed (a CPU re-run gives the same numbers).", rich_help_panel=TRAIN_PANEL
        ),
    ] = 0,
    out: Annotated[
        Path | None,
        typer.Option(help="Output directory (default: a new directory beside the model)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print report.json's object on stdout.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False,
    require_improvement: Annotated[
        bool,
        typer.Option(
            "--require-improvement",
            help="Exit 1 when the monitored metric did not improve on the baseline.",
        ),
    ] = False,
    trust_pickle: TrustPickle = False,
    model_factory: ModelFactory = None,
    factory_arg: FactoryArg = None,
    loss: LossOpt = None,
    optimizer: OptimizerOpt = None,
    lr: Annotated[
        float | None,
        typer.Option(
            help=(
                "Learning rate: for lr-decay the new rate (instead of --factor); otherwise the"
                " rate of a new optimizer, or an override of the restored one."
            ),
            rich_help_panel=LR_PANEL,
        ),
    ] = None,
    device: DeviceOpt = "auto",
    factor: Annotated[
        float | None,
        typer.Option(
            help=(
                "lr-decay: multiply the rate by this (default 0.1); widen: grow the layer by"
                " this (default 2)."
            ),
            rich_help_panel=LR_PANEL,
        ),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            help="lr-decay: constant, step, cosine, exponential or plateau (default constant).",
            rich_help_panel=LR_PANEL,
        ),
    ] = None,
    min_lr: Annotated[
        float | None,
        typer.Option(
            help="lr-decay: floor for every schedule (cosine decays to it).",
            rich_help_panel=LR_PANEL,
        ),
    ] = None,
    lr_patience: Annotated[
        int | None,
        typer.Option(
            help="lr-decay plateau: epochs without improvement before reducing (2).",
            rich_help_panel=LR_PANEL,
        ),
    ] = None,
    cooldown: Annotated[
        int | None,
        typer.Option(
            help="lr-decay plateau: epochs to wait after a reduction (0).", rich_help_panel=LR_PANEL
        ),
    ] = None,
    step_size: Annotated[
        int | None,
        typer.Option(
            help="lr-decay step: epochs between reductions (5).", rich_help_panel=LR_PANEL
        ),
    ] = None,
    gamma: Annotated[
        float | None,
        typer.Option(
            help="lr-decay step/exponential: multiplier per step (0.1 / 0.9).",
            rich_help_panel=LR_PANEL,
        ),
    ] = None,
    units: Annotated[
        int | None,
        typer.Option(
            help="widen: the layer's new width (instead of --factor).", rich_help_panel=WIDEN_PANEL
        ),
    ] = None,
    layer: Annotated[
        str | None,
        typer.Option(
            help="widen: the layer to grow (default: the narrowest hidden layer).",
            rich_help_panel=WIDEN_PANEL,
        ),
    ] = None,
    init: Annotated[
        str | None,
        typer.Option(
            help=(
                "widen: how new units start: zero-out (random in, zero out: keeps the outputs;"
                " default), net2net (copies) or random (re-initialised, for comparison)."
            ),
            rich_help_panel=WIDEN_PANEL,
        ),
    ] = None,
    noise: Annotated[
        float | None,
        typer.Option(
            help=(
                "widen: symmetry-breaking noise for net2net copies, relative to the weights'"
                " scale; augment: Gaussian input noise, times each feature's spread (default 1"
                " for vector inputs)."
            ),
            rich_help_panel=WIDEN_PANEL,
        ),
    ] = None,
    layers: Annotated[
        str | None,
        typer.Option(
            help=(
                "unfreeze: how many frozen blocks to unfreeze from the top, or 'all' (default:"
                " the top third, at least one; with --gradual, all)."
            ),
            rich_help_panel=UNFREEZE_PANEL,
        ),
    ] = None,
    gradual: Annotated[
        bool,
        typer.Option(
            "--gradual",
            help="unfreeze: start with the top block, one more each epoch (ULMFiT).",
            rich_help_panel=UNFREEZE_PANEL,
        ),
    ] = False,
    base_lr_mult: Annotated[
        float | None,
        typer.Option(
            help="unfreeze: learning rate of unfrozen layers relative to the head's (0.3).",
            rich_help_panel=UNFREEZE_PANEL,
        ),
    ] = None,
    train_bn: Annotated[
        bool,
        typer.Option(
            "--train-bn",
            help=(
                "unfreeze: train the unfrozen BatchNorm layers too (default: frozen, in"
                " inference mode)."
            ),
            rich_help_panel=UNFREEZE_PANEL,
        ),
    ] = False,
    augment: Annotated[
        str | None,
        typer.Option(
            help=(
                "augment, for an overfit model (training loss far below validation; not for one"
                " that underfits at a high training loss): transforms, e.g. flip,rotate=15,"
                "shift=0.1,zoom=0.1,contrast=0.2,brightness=0.2,noise=1,mixup=0.2; a name alone"
                " takes its default. Default: noise for vectors; rotate,shift,zoom for images (no"
                " flip: a mirrored digit or letter is another class)."
            ),
            rich_help_panel=AUGMENT_PANEL,
        ),
    ] = None,
    mixup: Annotated[
        float | None,
        typer.Option(
            help="augment: mixup of inputs and labels, Beta(ALPHA, ALPHA) (off by default).",
            rich_help_panel=AUGMENT_PANEL,
        ),
    ] = None,
    copies: Annotated[
        int | None,
        typer.Option(
            help="augment: augmented passes over the training set per epoch (4).",
            rich_help_panel=AUGMENT_PANEL,
        ),
    ] = None,
    bake: Annotated[
        bool,
        typer.Option(
            "--bake",
            help=(
                "augment, Keras: save the image augmentation layers into the model (inactive"
                " at inference)."
            ),
            rich_help_panel=AUGMENT_PANEL,
        ),
    ] = False,
    lr_mult: Annotated[
        float | None,
        typer.Option(
            help=(
                "augment: multiply the restored learning rate by this (0.2; 1 keeps it; --lr"
                " sets a rate instead)."
            ),
            rich_help_panel=AUGMENT_PANEL,
        ),
    ] = None,
) -> None:
    """Resume training from a saved model with one targeted change, and report whether it worked.

    Writes the new checkpoint, report.json, report.md, history.csv and curves.png into --out;
    never writes over MODEL. Exit 0 on success, 1 with --require-improvement when the monitored
    metric did not improve, 2 for bad input, 130 when interrupted (the best checkpoint so far and
    a report marked interrupted are written).
    """
    from plateau_cli.observer import NullObserver
    from plateau_cli.render.console import stderr_console
    from plateau_cli.render.progress import RichObserver
    from plateau_cli.resume import ResumeRequest, continue_resume, run_resume
    from plateau_cli.strategies import build_strategy

    console = stderr_console()
    observer = NullObserver() if json_output else RichObserver(console, quiet=quiet)
    if continue_from is not None:
        _check_continue_options(ctx, model)
        try:
            report = continue_resume(
                continue_from,
                observer,
                trust_pickle=trust_pickle,
                device=device if _given(ctx, "device") else None,
                command_line=("plateau-cli", *sys.argv[1:]),
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
        image_size=_parse_image_size(image_size),
        epochs=epochs,
        batch_size=batch_size,
        monitor=monitor,
        min_delta=min_delta,
        patience=patience,
        seed=seed,
        out=out,
        load=_load_options(trust_pickle, model_factory, factory_arg, loss, optimizer, lr, device),
        command_line=("plateau-cli", *sys.argv[1:]),
        log=log,
    )
    try:
        report = run_resume(request, observer, strategy=chosen)
    finally:
        if isinstance(observer, RichObserver):
            observer.close()
    _finish_resume(report, console, json_output, quiet, require_improvement)


@app.command()
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
                "Candidates, comma-separated (each with its defaults); the control, continue"
                " unchanged, always runs beside them."
            )
        ),
    ] = "lr-decay,augment,widen,unfreeze",
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
    target: Annotated[
        str | None, typer.Option(help="CSV: the label column.", rich_help_panel=DATA_PANEL)
    ] = None,
    val_split: Annotated[
        float | None,
        typer.Option(help="Share held out for validation.", rich_help_panel=DATA_PANEL),
    ] = None,
    image_size: Annotated[
        str | None,
        typer.Option(
            help="Image folders: HxW when the model does not say.", rich_help_panel=DATA_PANEL
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Batch size.", rich_help_panel=TRAIN_PANEL)
    ] = 32,
    monitor: Annotated[
        str, typer.Option(help="Metric the candidates are ranked on.", rich_help_panel=TRAIN_PANEL)
    ] = "val_loss",
    min_delta: Annotated[
        float,
        typer.Option(
            min=0.0, help="Smallest change that counts as improvement.", rich_help_panel=TRAIN_PANEL
        ),
    ] = 0.0,
    seed: Annotated[
        int,
        typer.Option(
            help="Random seed (every candidate gets the same).", rich_help_panel=TRAIN_PANEL
        ),
    ] = 0,
    out: Annotated[
        Path | None,
        typer.Option(help="Output directory (default: a new directory beside the model)."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print trial.json's object on stdout.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")] = False,
    require_improvement: Annotated[
        bool,
        typer.Option(
            "--require-improvement", help="Exit 1 when no strategy beats continuing unchanged."
        ),
    ] = False,
    trust_pickle: TrustPickle = False,
    model_factory: ModelFactory = None,
    factory_arg: FactoryArg = None,
    loss: LossOpt = None,
    optimizer: OptimizerOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Race the strategies against continuing unchanged from one checkpoint, and keep the winner.

    Every candidate resumes from the same checkpoint with the same seed; after each short rung
    the better half goes on (successive halving), the control always with them, so the winner
    is never worse than continuing unchanged. Writes the winner's checkpoint, trial.json,
    trial.md, trial.png (every candidate's curve) and each candidate's own resume report.
    """
    from plateau_cli.observer import NullObserver
    from plateau_cli.render.console import stderr_console
    from plateau_cli.render.progress import RichObserver
    from plateau_cli.report.trial_report import to_json, write_trial
    from plateau_cli.resume import ResumeRequest
    from plateau_cli.trial import check_strategies, run_trial

    names = check_strategies(strategies.split(","))
    request = ResumeRequest(
        model=model,
        strategy="continue",
        data=data,
        target=target,
        val_split=val_split,
        image_size=_parse_image_size(image_size),
        epochs=budget_epochs,
        batch_size=batch_size,
        monitor=monitor,
        min_delta=min_delta,
        patience=None,
        seed=seed,
        out=out,
        load=_load_options(trust_pickle, model_factory, factory_arg, loss, optimizer, None, device),
        command_line=("plateau-cli", *sys.argv[1:]),
    )
    console = stderr_console()
    observer = NullObserver() if json_output else RichObserver(console, quiet=quiet)
    try:
        result = run_trial(request, names, budget_epochs, observer)
    finally:
        if isinstance(observer, RichObserver):
            observer.close()
    write_trial(result)
    if json_output:
        _print_json(to_json(result))
    elif not quiet:
        from plateau_cli.render.trial import render_trial

        render_trial(console, result)
    if result.interrupted:
        raise typer.Exit(int(ExitStatus.INTERRUPTED))
    if require_improvement and result.control_won:
        raise typer.Exit(int(ExitStatus.NOT_IMPROVED))


#: What `--continue` accepts again; everything else comes from the interrupted run's report.
_CONTINUE_OPTIONS = frozenset(
    {"continue_from", "json_output", "quiet", "require_improvement", "trust_pickle", "device"}
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

        _print_json(to_json(report))
    elif not quiet:
        from plateau_cli.render.resume import render_summary

        render_summary(console, report)
    if report.interrupted:
        raise typer.Exit(int(ExitStatus.INTERRUPTED))
    if require_improvement and not report.improved:
        raise typer.Exit(int(ExitStatus.NOT_IMPROVED))


def _parse_image_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    height, sep, width = text.lower().partition("x")
    if not sep or not height.strip().isdigit() or not width.strip().isdigit():
        raise UsageError(f"--image-size must be HxW, e.g. 64x64. Received: {text!r}")
    return int(height), int(width)


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
    command = typer.main.get_command(app)
    try:
        status = command.main(args=argv, prog_name="plateau-cli", standalone_mode=False)
    except PlateauError as exc:
        if os.environ.get("PLATEAU_TRACEBACK"):
            raise
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


__all__ = ["UsageError", "app", "main"]
