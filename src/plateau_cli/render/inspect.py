"""`inspect` for people: what is in a checkpoint, as a table."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from plateau_cli.adapters.base import ModelDescription, OptimizerState, UnitActivity
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


#: The layer column's width in an 80-column terminal (wider ones give it more).
_NAME_WIDTH = 20


def _shown_name(name: str) -> str:
    """A nested model's layers (`base/inner/conv`) indented under the model's own row, by
    their name inside it: the full path is as long as the base's name plus the layer's
    (`mobilenetv2_0.35_32/block_16_depthwise_relu`), which an 80-column table cut to
    "mobilenetv2_0.35…" on every row. --json keeps the full path."""
    *outer, own = name.split("/")
    return "  " * len(outer) + own


def render_inspect(console: Console, d: ModelDescription) -> None:
    console.print(
        f"[bold]{escape(str(d.path))}[/bold]: {d.framework} ({d.format}),"
        f" {_io('input', d.input_shape, d.extra)} -> {_io('output', d.output_shape, d.extra)}",
        soft_wrap=True,
    )
    table = Table(show_edge=False, header_style="bold")
    # The layer column has its own width and folds rather than cutting a name short: left to
    # rich, it is the widest column and the first squeezed, to 17 characters in 80 columns
    # ("BatchNormalizat…" still reads as a type; a cut name is not a name).
    shown = [_shown_name(layer.name) for layer in d.layers]
    longest = max((len(name) for name in shown), default=0)
    width = max(len("layer"), min(longest, max(_NAME_WIDTH, console.width - 60)))
    table.add_column("layer", overflow="fold", width=width)
    for column, justify in (
        ("type", "left"),
        ("output shape", "left"),
        ("params", "right"),
        ("trainable", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name, layer in zip(shown, d.layers, strict=True):
        trainable = {True: "yes", False: "[warning]frozen[/warning]", None: "partly"}[
            layer.trainable
        ]
        if layer.params == 0:
            trainable = "[muted]–[/muted]"
        table.add_row(
            escape(name),
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


#: Why no ReLU could be observed, in each framework's words.
_NO_RELU = {
    "keras": (
        "no ReLU layer to observe: the model has no ReLU, Activation('relu') or"
        " activation='relu' layer (in it or in a nested model), or it is a subclassed model"
        " whose call() Keras does not expose"
    ),
    "torch": (
        "no ReLU layer to observe: nn.ReLU modules are observed; a ReLU called as a function"
        " inside forward() cannot be"
    ),
}
#: Layers of a nested model listed one by one: those with dead units, the worst first.
_NESTED_SHOWN = 5


def render_probe(console: Console, probe: DataProbe) -> None:
    """Losses on both splits and dead units, with what they mean."""

    def line(metrics: Mapping[str, float]) -> str:
        return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())

    console.print(f"on {escape(probe.source)}:", soft_wrap=True)
    console.print(f"  training:   {line(probe.train)}")
    console.print(f"  validation: {line(probe.val)}")
    if not probe.units:
        words = _NO_RELU.get(probe.framework, "no ReLU layer to observe")
        console.print(f"  [muted]dead units: {escape(words)}[/muted]", soft_wrap=True)
    for unit in probe.units:
        if not unit.nested:
            _unit_line(console, unit)
    _nested_lines(console, [u for u in probe.units if u.nested])
    top = [u for u in probe.units if not u.nested]
    if any(u.dead_share >= 0.5 for u in top):
        console.print(
            "  [warning]most units of a layer output 0 on every training sample: no learning"
            " rate revives them; `plateau-cli resume MODEL --strategy auto --data DATA` picks a"
            " strategy that can[/warning]",
            soft_wrap=True,
        )
    for warning in probe.health:
        console.print(f"  [warning]warning:[/warning] {escape(warning.text)}", soft_wrap=True)


def _unit_line(console: Console, unit: UnitActivity) -> None:
    share = unit.dead_share
    style = "bad" if share >= 0.5 else "warning" if unit.dead else "good"
    console.print(
        f"  layer {escape(repr(unit.layer))} ({unit.activation}): [{style}]{unit.dead} of"
        f" {unit.units} units dead[/{style}] ({share:.0%}) on {unit.samples:,} training"
        " samples",
        soft_wrap=True,
    )


def _nested_lines(console: Console, units: list[UnitActivity]) -> None:
    """A nested base (MobileNetV2 has 35 ReLU layers) gets one summary line per model, then
    only its layers with dead units, the worst first; --json lists every layer."""
    by_model: dict[str, list[UnitActivity]] = {}
    for unit in units:
        by_model.setdefault(unit.layer.rsplit("/", 1)[0], []).append(unit)
    for model, group in by_model.items():
        dead = sum(u.dead for u in group)
        total = sum(u.units for u in group)
        style = "warning" if dead else "good"
        console.print(
            f"  nested model {escape(repr(model))}: {len(group)} ReLU"
            f" layer{'s' if len(group) != 1 else ''}, [{style}]{dead:,}"
            f" of {total:,} units dead[/{style}] on {group[0].samples:,} training samples",
            soft_wrap=True,
        )
        worst = sorted((u for u in group if u.dead), key=lambda u: -u.dead_share)
        for unit in worst[:_NESTED_SHOWN]:
            _unit_line(console, unit)
        if len(worst) > _NESTED_SHOWN:
            console.print(
                f"  [muted]and {len(worst) - _NESTED_SHOWN} more of its layers with dead units"
                " (--json lists every layer)[/muted]"
            )
        if any(u.dead_share >= 0.5 for u in group):
            console.print(
                "  [warning]most units of a layer inside this nested model output 0 on every"
                " training sample: the layers after it never see those features (revive"
                " reaches the model's own layers, not a nested model's)[/warning]",
                soft_wrap=True,
            )
