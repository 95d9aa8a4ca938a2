"""`inspect` for people: what is in a checkpoint, as a table."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from plateau_cli.adapters.base import ModelDescription, OptimizerState


def _shape(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "unknown"
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def render_inspect(console: Console, d: ModelDescription) -> None:
    console.print(
        f"[bold]{escape(str(d.path))}[/bold]: {d.framework} ({d.format}),"
        f" input {_shape(d.input_shape)} -> output {_shape(d.output_shape)}",
        soft_wrap=True,
    )
    table = Table(show_edge=False, header_style="bold")
    for column, justify in (
        ("layer", "left"),
        ("type", "left"),
        ("output shape", "left"),
        ("params", "right"),
        ("trainable", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for layer in d.layers:
        trainable = {True: "yes", False: "[warning]frozen[/warning]", None: "partly"}[
            layer.trainable
        ]
        if layer.params == 0:
            trainable = "[muted]–[/muted]"
        table.add_row(
            escape(layer.name),
            escape(layer.kind),
            escape(layer.output_shape or "?"),
            f"{layer.params:,}",
            trainable,
        )
    console.print(table)
    total = d.trainable_params + d.frozen_params
    console.print(
        f"parameters: {total:,} total, {d.trainable_params:,} trainable, {d.frozen_params:,} frozen"
    )
    opt = d.optimizer
    state_style = "good" if opt.state is OptimizerState.RESTORED else "warning"
    lr = f"{opt.learning_rate:.4g}" if opt.learning_rate is not None else "unknown"
    schedule = f" (schedule {opt.schedule})" if opt.schedule else ""
    steps = f", {opt.iterations:,} steps" if opt.iterations is not None else ""
    console.print(
        f"optimizer: {opt.name or 'none'}, learning rate {lr}{schedule}{steps};"
        f" optimizer_state: [{state_style}]{opt.state.value}[/{state_style}]"
    )
    if opt.detail:
        console.print(f"  [warning]{escape(opt.detail)}[/warning]", soft_wrap=True)
    console.print(f"loss: {d.loss or 'none'}; metrics: {', '.join(d.metrics) or 'none'}")
    for note in d.notes:
        console.print(f"[muted]note: {escape(note)}[/muted]", soft_wrap=True)
