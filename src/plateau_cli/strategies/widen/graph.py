"""Which layer to widen, and what consumes its units: a walk over a framework-neutral graph.

Each framework describes its model as `Op`s (Keras from its functional graph, torch from a
torch.fx trace); the rules of what can be widened safely live here once:

- the layer is a Dense/Linear or a Conv2D/Conv2d, called at one place (a shared layer would
  need every call site's consumer changed alike), not an output layer (its width is the number
  of outputs) and not frozen (its new units could not learn);
- its output reaches exactly one consumer Dense/Conv through a plain chain of per-unit
  operations (activations, dropout, pooling), BatchNorms (widened alongside) and Flattens
  (each unit becomes a block of the consumer's inputs);
- nothing on the way branches or merges: a residual Add or a Concatenate would pair the new
  units with a tensor that keeps the old width, so the result would be silently wrong.
Anything else is refused with the layer's name and the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from plateau_cli.errors import StrategyNotApplicableError, UsageError


class Kind(str, Enum):
    DENSE = "dense"
    CONV = "conv"
    BATCH_NORM = "batch-norm"
    FLATTEN = "flatten"
    #: Acts on each unit (channel) separately: activations, dropout, pooling.
    PER_UNIT = "per-unit"
    INPUT = "input"
    OTHER = "other"


LAYERS = (Kind.DENSE, Kind.CONV)
SUPPORTED_BETWEEN = "activations, dropout, pooling, BatchNorm and Flatten"


@dataclass(frozen=True)
class Op:
    """One layer or operation, as the walk needs to see it."""

    name: str
    kind: Kind
    #: The framework's own name for it ("Dense", "Conv2d", "Add", "relu").
    type_name: str
    inputs: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    #: Units or filters of a Dense/Conv.
    width: int | None = None
    #: Call sites of the same layer object (> 1: shared).
    calls: int = 1
    is_output: bool = False
    #: Flatten: inputs it makes of each channel (H*W); None when unknown.
    block: int | None = None
    frozen: bool = False
    #: Why this op cannot take part in a widening in any role (a grouped convolution...).
    problem: str | None = None
    #: Why it cannot be the widened layer, though it may consume one (a softmax activation).
    layer_problem: str | None = None

    @property
    def unit_word(self) -> str:
        return "filters" if self.kind is Kind.CONV else "units"

    def ref(self) -> str:
        """How messages name it: `Dense 'hidden'`, `Linear '0'` (torch names can be digits)."""
        return f"{self.type_name} {self.name!r}"

    def label(self) -> str:
        return f"{self.name} ({self.width} {self.unit_word})" if self.width else self.name


@dataclass(frozen=True)
class Chain:
    """A widenable layer, the BatchNorms between it and its consumer, and the consumer."""

    layer: Op
    batch_norms: tuple[Op, ...]
    consumer: Op
    #: The consumer's inputs per unit: 1, or H*W after a Flatten.
    block: int
    #: Every op between the layer and its consumer, for the report.
    path: tuple[str, ...]


class Graph:
    def __init__(self, ops: Sequence[Op]) -> None:
        self.order = [op.name for op in ops]
        self.ops = {op.name: op for op in ops}

    def hidden_layers(self) -> list[Op]:
        return [o for o in self.ops.values() if o.kind in LAYERS and not o.is_output]

    def widenable(self) -> list[Op]:
        return [o for o in self.hidden_layers() if isinstance(self.chain(o.name), Chain)]

    def chain(self, name: str) -> Chain | str:
        """The chain from layer `name` to its consumer, or why it cannot be widened."""
        op = self.ops[name]
        if op.kind not in LAYERS:
            return f"it is a {op.type_name}; widen grows Dense/Linear units and Conv2D filters"
        if op.calls > 1:
            return (
                f"it is shared (called at {op.calls} places): every call site's consumer would"
                " have to change alike"
            )
        if op.is_output:
            return "it is an output layer: its width is the number of outputs the labels fix"
        if op.problem or op.layer_problem:
            return str(op.problem or op.layer_problem)
        if op.frozen:
            return "it is frozen: its new units could not learn (unfreeze it first)"
        block, path, norms, current = 1, [], [], op
        while True:
            if current.is_output and current is not op:
                return (
                    f"its units reach the model's output through {current.name}"
                    f" ({current.type_name}) with no Dense/Conv layer after them to absorb new"
                    " units"
                )
            whose = "its output" if current is op else f"{current.name}'s output"
            if not current.users:
                return f"{whose} is not consumed by any layer"
            if len(current.users) > 1:
                return (
                    f"{whose} feeds {len(current.users)} layers ({', '.join(current.users)}):"
                    " a branch or residual connection whose other side keeps the old width"
                )
            nxt = self.ops[current.users[0]]
            if len(nxt.inputs) > 1:
                return (
                    f"{whose} feeds {nxt.name} ({nxt.type_name}), which merges it with another"
                    " tensor that keeps the old width"
                )
            if nxt.calls > 1:
                return f"{whose} feeds {nxt.name}, a layer shared by {nxt.calls} call sites"
            if nxt.problem:
                return f"{whose} feeds {nxt.name} ({nxt.type_name}): {nxt.problem}"
            if nxt.kind in LAYERS:
                if nxt.kind is Kind.CONV and block > 1:
                    return f"a Flatten lies between it and the convolution {nxt.name}"
                if nxt.frozen:
                    return (
                        f"its consumer {nxt.name} is frozen: the new units' outgoing weights"
                        " could not learn (unfreeze it first)"
                    )
                return Chain(op, tuple(norms), nxt, block, tuple(path))
            if nxt.kind is Kind.BATCH_NORM and block == 1:
                norms.append(nxt)
            elif nxt.kind is Kind.FLATTEN:
                if nxt.block is None:
                    return f"cannot tell how many inputs per unit {nxt.name} makes"
                block *= nxt.block
            elif nxt.kind is not Kind.PER_UNIT:
                return (
                    f"{whose} feeds {nxt.name} ({nxt.type_name}), which widen cannot follow"
                    f" (supported between a layer and its consumer: {SUPPORTED_BETWEEN})"
                )
            path.append(nxt.name)
            current = nxt

    def choose(self, layer: str | None) -> tuple[Chain, str]:
        """The chain to widen and how it was chosen; raises with the reasons when none fits."""
        widenable = self.widenable()
        listed = ", ".join(o.label() for o in widenable) or "none"
        if layer is not None:
            if layer not in self.ops:
                raise UsageError(f"--layer {layer!r}: no such layer; widenable layers: {listed}")
            result = self.chain(layer)
            if isinstance(result, str):
                raise StrategyNotApplicableError(
                    f"cannot widen {layer} ({self.ops[layer].type_name}): {result};"
                    f" widenable layers: {listed}"
                )
            return result, "--layer"
        hidden = self.hidden_layers()
        if not hidden:
            raise StrategyNotApplicableError(
                "widen found no hidden Dense/Linear or Conv2D layer to grow (only output"
                " layers, or none at all)"
            )
        narrowest = min(hidden, key=lambda o: o.width or 0)  # the first of equals
        result = self.chain(narrowest.name)
        if isinstance(result, str):
            raise StrategyNotApplicableError(
                f"cannot widen {narrowest.name} ({narrowest.type_name}), the narrowest hidden"
                f" layer: {result}; widenable layers: {listed} (choose one with --layer)"
            )
        return result, "the narrowest hidden layer"
