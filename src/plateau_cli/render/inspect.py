"""`inspect` for people: what is in a checkpoint, as a table."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from plateau_cli.adapters.base import ModelDescription, OptimizerState
from plateau_cli.inspection import DataProbe


def _shape(shape: tuple[int | None, ...] | None) -> str:
    if shape is None:
        return "unknown"
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _io(kind: str, shape: tuple[int | None, ...] | None, extra: Mapping[str, object]) -> str:
    """`input (?, 64)`, or `inputs pixels (?, 64), meta (?, 3)` for a multi-input model."""
    named = extra.get(f"{kind}s")
    if shape is None and isinstance(named, Mapping) and named:
        listed = ", ".join(f"{escape(str(n))} {_shape(tuple(s))}" for n, s in named.items())
        return f"{kind}s {listed}"
    return f"{kind} {_shape(shape)}"


#: OptimizerState values (JSON) in words.
_STATE_WORDS = {
    "restored": "saved, and it loads (moments and step count go on)",
    "skipped": "saved, but it cannot be used (training would start it fresh)",
    "absent": "not saved (training would start it fresh)",
    "remapped": "carried over per parameter",
    "partial": "kept for some parameters, fresh for others",
    "reset": "reset",
}


def render_inspect(console: Console, d: ModelDescription) -> None:
    console.print(
        f"[bold]{escape(str(d.path))}[/bold]: {d.framework} ({d.format}),"
        f" {_io('input', d.input_shape, d.extra)} -> {_io('output', d.output_shape, d.extra)}",
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
        f" its state: [{state_style}]{_STATE_WORDS.get(opt.state.value, opt.state.value)}"
        f"[/{state_style}]"
    )
    if opt.detail:
        console.print(f"  [warning]{escape(opt.detail)}[/warning]", soft_wrap=True)
    console.print(f"loss: {d.loss or 'none'}; metrics: {', '.join(d.metrics) or 'none'}")
    for note in d.notes:
        console.print(f"[muted]note: {escape(note)}[/muted]", soft_wrap=True)


def render_probe(console: Console, probe: DataProbe) -> None:
    """Losses on both splits and dead units, with what they mean."""

    def line(metrics: Mapping[str, float]) -> str:
        return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())

    console.print(f"on {escape(probe.source)}:", soft_wrap=True)
    console.print(f"  training:   {line(probe.train)}")
    console.print(f"  validation: {line(probe.val)}")
    if not probe.units:
        console.print(
            "  [muted]dead units: no ReLU layer to observe (ReLUs called inside a PyTorch"
            " forward() or a subclassed Keras model's call() cannot be reached)[/muted]"
        )
    for unit in probe.units:
        share = unit.dead_share
        style = "bad" if share >= 0.5 else "warning" if unit.dead else "good"
        console.print(
            f"  layer {escape(repr(unit.layer))} ({unit.activation}): [{style}]{unit.dead} of"
            f" {unit.units} units dead[/{style}] ({share:.0%}) on {unit.samples:,} training"
            " samples",
            soft_wrap=True,
        )
    if any(u.dead_share >= 0.5 for u in probe.units):
        console.print(
            "  [warning]most units of a layer output 0 on every training sample: no learning"
            " rate revives them; `plateau-cli resume MODEL --strategy auto --data DATA` picks a"
            " strategy that can[/warning]",
            soft_wrap=True,
        )
    for warning in probe.health:
        console.print(f"  [warning]warning:[/warning] {escape(warning.text)}", soft_wrap=True)
