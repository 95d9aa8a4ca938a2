"""Options several commands share: panels, load options, image size."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from plateau_cli.errors import UsageError

LOAD_PANEL = "Loading the checkpoint"
TRAIN_PANEL = "Training"
DATA_PANEL = "Data"
LR_PANEL = "lr-decay options"
WIDEN_PANEL = "widen options"
UNFREEZE_PANEL = "unfreeze options"
AUGMENT_PANEL = "augment options"


def load_options(
    trust_pickle: bool,
    model_factory: str | None,
    factory_arg: list[str] | None,
    loss: str | None,
    optimizer: str | None,
    lr: float | None,
    device: str,
    output: str | None = None,
    imports: list[str] | None = None,
    distribute: str | None = None,
    sync_batchnorm: bool = False,
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
        output=output,
        imports=tuple(imports or ()),
        distribute=distribute,
        sync_batchnorm=sync_batchnorm,
    )


ImportOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--import",
        help=(
            "Import a module or .py file first (repeatable; runs it): custom Keras objects,"
            " classes a factory needs."
        ),
        show_default=False,
    ),
]


TrustPickle = Annotated[
    bool,
    typer.Option(
        "--trust-pickle",
        "--trust-code",
        help=(
            "Run code stored in the file (pickled modules, TorchScript, Keras Lambda layers):"
            " only for files you made yourself."
        ),
        rich_help_panel=LOAD_PANEL,
    ),
]
ModelFactory = Annotated[
    str | None,
    typer.Option(
        help=(
            "module:callable or file.py:callable that builds a PyTorch or weights-only Keras model."
        ),
        rich_help_panel=LOAD_PANEL,
    ),
]
FactoryArg = Annotated[
    list[str] | None,
    typer.Option(
        help="A --model-factory argument (a Python literal); repeatable.",
        rich_help_panel=LOAD_PANEL,
    ),
]
LossOpt = Annotated[
    str | None,
    typer.Option(
        help="Loss for a model saved without one.",
        rich_help_panel=LOAD_PANEL,
    ),
]
OptimizerOpt = Annotated[
    str | None,
    typer.Option(
        help="Optimizer for a checkpoint without one (adam, sgd, ...).",
        rich_help_panel=LOAD_PANEL,
    ),
]
OutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        metavar="KEY|INDEX",
        help=("PyTorch: the predictions in a dict/tuple output (default: logits, else the first)."),
        rich_help_panel=LOAD_PANEL,
    ),
]
DeviceOpt = Annotated[
    str,
    typer.Option(help="PyTorch device: auto, cpu, cuda or mps.", rich_help_panel=LOAD_PANEL),
]

DistributeOpt = Annotated[
    str | None,
    typer.Option(
        help=(
            "Keras: mirrored (tf.distribute over this machine's GPUs); --batch-size is"
            " then global. PyTorch: use torchrun."
        ),
        rich_help_panel=LOAD_PANEL,
        show_default=False,
    ),
]
SyncBatchNormOpt = Annotated[
    bool,
    typer.Option(
        "--sync-batchnorm",
        help=("torchrun on GPUs: BatchNorm over the whole global batch (SyncBatchNorm)."),
        rich_help_panel=LOAD_PANEL,
    ),
]


def parse_image_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    height, sep, width = text.lower().partition("x")
    if not sep or not height.strip().isdigit() or not width.strip().isdigit():
        raise UsageError(f"--image-size must be HxW, e.g. 64x64. Received: {text!r}")
    return int(height), int(width)


TargetOpt = Annotated[
    str | None, typer.Option(help="CSV: the label column.", rich_help_panel=DATA_PANEL)
]
ValSplitOpt = Annotated[
    float | None,
    typer.Option(
        help="Share held out for validation, when the data has no split.",
        rich_help_panel=DATA_PANEL,
    ),
]
ImageSizeOpt = Annotated[
    str | None,
    typer.Option(
        help="Image folders: HxW (e.g. 64x64) when the model does not say.",
        rich_help_panel=DATA_PANEL,
    ),
]
BatchSizeOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        help=("Default: the run's own (recorded, or from its step count), else 32."),
        show_default=False,
        rich_help_panel=TRAIN_PANEL,
    ),
]
MinDeltaOpt = Annotated[
    float,
    typer.Option(
        min=0.0, help="Smallest change that counts as improvement.", rich_help_panel=TRAIN_PANEL
    ),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(help="Output directory (default: a new directory beside the model)."),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")]
OverwriteOpt = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Move a run already in --out aside (to OUT/.previous-<time>/).",
    ),
]
