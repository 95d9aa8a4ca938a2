"""`plateau-cli inspect`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from plateau_cli.cli.app import app, print_json
from plateau_cli.cli.help import PlateauCommand
from plateau_cli.cli.options import (
    DATA_PANEL,
    DeviceOpt,
    FactoryArg,
    ImageSizeOpt,
    ImportOpt,
    ModelFactory,
    OutputOpt,
    TargetOpt,
    TrustPickle,
    ValSplitOpt,
    load_options,
    parse_image_size,
)
from plateau_cli.errors import PlateauError


@app.command(cls=PlateauCommand)
def inspect(
    model: Annotated[Path, typer.Argument(help="A checkpoint: .keras, .h5, .pt/.pth/.ckpt, ...")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout (schema_version 1).")
    ] = False,
    trust_pickle: TrustPickle = False,
    imports: ImportOpt = None,
    model_factory: ModelFactory = None,
    factory_arg: FactoryArg = None,
    output: OutputOpt = None,
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
    target: TargetOpt = None,
    val_split: ValSplitOpt = None,
    image_size: ImageSizeOpt = None,
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

    sniffed = sniff_checkpoint(model)  # an unknown file fails here, before a framework loads
    options = load_options(
        trust_pickle,
        model_factory,
        factory_arg,
        None,
        None,
        None,
        device,
        output=output,
        imports=imports,
    )
    spec = None
    if data is not None:
        from plateau_cli.data import parse_data_spec

        spec = parse_data_spec(data, target=target, val_split=val_split, seed=0)
    size = parse_image_size(image_size)
    from plateau_cli.render.console import stderr_console, stdout_console, waiting

    framework = "PyTorch" if sniffed.framework == "torch" else "Keras"
    try:
        with waiting(stderr_console(), f"loading {framework} and the model"):
            handle = load_handle(model, options)
    except PlateauError as exc:
        description = _file_view(model, sniffed, options, exc, spec is not None)
        if json_output:
            print_json(describe_to_json(description, sha256_of(model)) | {"data": None})
        else:
            from plateau_cli.render.inspect import render_inspect

            render_inspect(stdout_console(), description)
        return
    with waiting(stderr_console(), "evaluating on the data"):
        probe = probe_with_data(handle, spec, size, batch_size) if spec is not None else None
    description = handle.describe()
    if json_output:
        print_json(describe_to_json(description, sha256_of(model)) | {"data": probe_to_json(probe)})
    else:
        from plateau_cli.render.inspect import render_inspect, render_probe

        console = stdout_console()
        render_inspect(console, description)
        if probe is not None:
            render_probe(console, probe)


def _file_view(model: Path, sniffed: Any, options: Any, exc: Exception, with_data: bool) -> Any:
    """A torch file without its code (a state dict, safetensors, an optimizer.pt): what the
    file says by itself. Anything else re-raises the load error."""
    from plateau_cli.errors import UnknownFormatError

    if sniffed.framework != "torch" or with_data or options.model_factory:
        raise exc
    from plateau_cli.adapters.torch.factory import FactoryNeededError
    from plateau_cli.adapters.torch.file_view import describe_file

    if not isinstance(exc, FactoryNeededError | UnknownFormatError):
        raise exc
    return describe_file(model, sniffed.format, options)
