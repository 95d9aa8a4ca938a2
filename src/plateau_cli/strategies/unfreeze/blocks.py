"""What a block is, how frozen layers group into blocks, and how many to unfreeze.

A *unit* is a layer that owns parameters (a Keras layer with weights, a torch module with
parameters of its own); nested models are looked into, so a frozen pretrained base contributes
its layers one by one (`base/conv2`, `base.4`). A *block* is one unit that is not a
normalisation layer, together with the normalisation layers that directly follow it in model
order (conv + BatchNorm, dense + LayerNorm): they are trained or frozen together, because a
normalisation layer only rescales what the layer before it computes. This is ULMFiT's "layer
group" at the finest grain that still keeps such pairs whole; a normalisation layer with no
frozen layer before it forms a block of its own.

BatchNorm is special: it carries running statistics. Unless `--train-bn`, a BatchNorm unit of an
unfrozen block stays frozen and in inference mode (the Keras fine-tuning guide's and Lightning's
`train_bn=False` advice: batch statistics of a small new dataset would overwrite the pretrained
ones), so a block made of BatchNorm only would unfreeze nothing and is not counted.

Blocks are ordered from the input to the output; "the top N" are the N frozen blocks closest to
the head, which hold the most task-specific features and are the ones fine-tuning moves first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from plateau_cli.strategies.unfreeze.options import ALL


@dataclass(frozen=True)
class Unit:
    """One layer that owns parameters, as the framework module reads it."""

    name: str
    kind: str
    #: Parameters that would train if the unit were unfrozen (BatchNorm: scale and offset).
    params: int
    frozen: bool
    #: Normalisation layers join the block of the layer before them.
    norm: bool = False
    #: Has running statistics: frozen and in inference mode unless --train-bn.
    batch_norm: bool = False


@dataclass(frozen=True)
class Block:
    units: tuple[Unit, ...]

    @property
    def name(self) -> str:
        return self.units[0].name

    def trained(self, train_bn: bool) -> tuple[Unit, ...]:
        """The units that will train once the block is unfrozen."""
        return tuple(u for u in self.units if train_bn or not u.batch_norm)

    def kept(self, train_bn: bool) -> tuple[Unit, ...]:
        """BatchNorm units that stay frozen, in inference mode."""
        return () if train_bn else tuple(u for u in self.units if u.batch_norm)

    def parameters(self, train_bn: bool) -> int:
        return sum(u.params for u in self.trained(train_bn))


def group_blocks(units: Sequence[Unit], train_bn: bool) -> list[Block]:
    """Frozen units in model order -> blocks in model order (bottom first).

    `units` lists every unit of the model, frozen or not: a normalisation layer joins the block
    before it only if the layer right before it is frozen too (a frozen BatchNorm after a
    trainable conv is a block of its own).
    """
    blocks: list[list[Unit]] = []
    previous_frozen = False
    for unit in units:
        if not unit.frozen or unit.params == 0:
            previous_frozen = False
            continue
        if unit.norm and previous_frozen and blocks:
            blocks[-1].append(unit)
        else:
            blocks.append([unit])
        previous_frozen = True
    grouped = [Block(tuple(b)) for b in blocks]
    return [b for b in grouped if b.parameters(train_bn) > 0]


def default_count(frozen_blocks: int, gradual: bool) -> int:
    """The top third of the frozen blocks (rounded up, at least one); with --gradual, all.

    A third: enough of the base to adapt its most task-specific features, while the lower
    blocks, whose generic features transfer best, stay as they were. Gradual unfreezing adds
    one block per epoch from the top and goes all the way down, as ULMFiT does.
    """
    if frozen_blocks < 1:
        return 0
    if gradual:
        return frozen_blocks
    return max(1, math.ceil(frozen_blocks / 3))


def resolve_count(layers: int | Literal["all"] | None, frozen_blocks: int, gradual: bool) -> int:
    """--layers as a number of blocks, capped at the number there are."""
    if layers is None:
        return default_count(frozen_blocks, gradual)
    if layers == ALL:
        return frozen_blocks
    return min(int(layers), frozen_blocks)


def top_blocks(blocks: Sequence[Block], count: int) -> list[Block]:
    """The `count` blocks closest to the head, the topmost first (the order gradual follows)."""
    return list(reversed(blocks[len(blocks) - count :])) if count > 0 else []


def stages(chosen: Sequence[Block], gradual: bool) -> list[tuple[Block, ...]]:
    """What is unfrozen when: everything at once, or one block per epoch from the top."""
    if not chosen:
        return []
    if gradual:
        return [(block,) for block in chosen]
    return [tuple(chosen)]
