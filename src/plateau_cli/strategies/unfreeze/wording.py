"""unfreeze's sentences for the report and its one-line refusals."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from plateau_cli.strategies.unfreeze.blocks import Block, Unit
from plateau_cli.strategies.unfreeze.stage import Stage

_MAX_NAMES = 8


def names(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_MAX_NAMES])
    more = len(items) - _MAX_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def stage_line(stage: Stage, mult: float, train_bn: bool, batch_norms: Sequence[str]) -> str:
    line = (
        f"unfroze {names(stage.trained)} ({stage.parameters:,} parameters) at {mult:g}x the"
        f" head's learning rate (lr {stage.lr:.3g})"
    )
    if stage.kept:
        line += (
            f"; BatchNorm {names(stage.kept)} kept frozen, in inference mode (--train-bn trains it)"
        )
    trained_bn = [n for n in stage.trained if n in batch_norms]
    if train_bn and trained_bn:
        line += f"; BatchNorm {names(trained_bn)} trains, with batch statistics (--train-bn)"
    return line


def plan_line(later: Sequence[tuple[Block, ...]], epochs: int) -> str:
    steps = [f"epoch {i}: {blocks[0].name}" for i, blocks in enumerate(later, start=2)]
    line = "gradual unfreezing, one more block each epoch from the top: " + ", ".join(steps)
    beyond = len(later) + 1 - epochs
    if beyond > 0:
        line += f" (the last {beyond} only if training runs that long: --epochs is {epochs})"
    return line


def not_applicable(
    path: Path, units: Sequence[Unit], trainable_params: int, hint: str | None = None
) -> str:
    """Why there is nothing to unfreeze, and what would help instead (one line)."""
    frozen_bn = [u for u in units if u.frozen and u.batch_norm and u.params]
    if frozen_bn:
        listed = names([u.name for u in frozen_bn])
        count = sum(u.params for u in frozen_bn)
        return (
            f"unfreeze: the only frozen layers of {path.name} are BatchNorm ({listed},"
            f" {count:,} parameters), which unfreeze keeps frozen by default; pass --train-bn"
            " to unfreeze them"
        )
    return (
        f"unfreeze does not apply to {path.name}: every layer already trains"
        f" ({trainable_params:,} trainable parameters, none frozen{hint or ''}); for a stalled"
        " model that"
        " trains fully, try --strategy lr-decay (flat or oscillating loss) or widen"
        " (underfitting at a high training loss), or run `plateau-cli diagnose` on its"
        " training log to see which"
    )
