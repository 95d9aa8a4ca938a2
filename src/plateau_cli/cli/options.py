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
    distribute: str | None = None,
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
        distribute=distribute,
    )


TrustPickle = Annotated[
    bool,
    typer.Option(
        "--trust-pickle",
        "--trust-code",
        help=(
            "Allow loading that can run code stored in the file: full pickled torch modules,"
            " TorchScript archives (their scripted code runs), Keras Lambda layers. One flag for"
            " all of them. Only for checkpoints you made yourself: a file from elsewhere can run"
            " any command or write any file when loaded."
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
OutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        metavar="KEY|INDEX",
        help=(
            "PyTorch: where the predictions are in a model's dict, tuple or ModelOutput output"
            " (default: logits, else the first element)."
        ),
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
            "Keras: train data-parallel with tf.distribute: mirrored (all GPUs of this machine)"
            " or multi-worker (the machines in TF_CONFIG). --batch-size is the global batch."
            " PyTorch runs data-parallel under torchrun instead."
        ),
        rich_help_panel=LOAD_PANEL,
        show_default=False,
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
        help="Share held out for validation when the data has no split.",
        rich_help_panel=DATA_PANEL,
    ),
]
ImageSizeOpt = Annotated[
    str | None,
    typer.Option(
        help="Image folders: HxW when the model does not say (e.g. 64x64).",
        rich_help_panel=DATA_PANEL,
    ),
]
BatchSizeOpt = Annotated[int, typer.Option(min=1, help="Batch size.", rich_help_panel=TRAIN_PANEL)]
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
