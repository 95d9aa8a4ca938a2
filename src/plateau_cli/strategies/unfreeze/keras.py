"""unfreeze for Keras: find the frozen layers, flip `trainable`, route their rate.

Frozen means "not updated by training": a layer whose weights are absent from
`model.trainable_weights`, whether its own `trainable` is False or a nested model around it is
frozen. Keras 3 propagates `trainable` downwards (setting it on a nested base sets every layer
inside), so unfreezing `base/conv2` sets `base` trainable and then puts every other layer of the
base back as it was.

BatchNormalization stays `trainable=False` unless --train-bn: in Keras 3 that both freezes its
scale and offset and runs it in inference mode (moving statistics used, never updated), the
fine-tuning guide's advice. The setting is part of the saved config, so a user's script that
trains the output further keeps it too.

The rate of the unfrozen layers is routed by `keras_rates.GroupRouter`; the loaded optimizer
itself keeps training the head, untouched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

import keras

from plateau_cli.adapters.base import OptimizerState
from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.strategies.unfreeze.blocks import Block, Unit
from plateau_cli.strategies.unfreeze.keras_rates import GroupRouter
from plateau_cli.strategies.unfreeze.stage import Stage

_NORMS = tuple(
    cls
    for cls in (
        getattr(keras.layers, name, None)
        for name in (
            "BatchNormalization",
            "LayerNormalization",
            "GroupNormalization",
            "RMSNormalization",
        )
    )
    if cls is not None
)


@dataclass(frozen=True)
class _Entry:
    layer: Any
    #: The nested models around the layer, outermost first (the root model included).
    containers: tuple[Any, ...]
    potential: tuple[Any, ...]


def _count(weights: Sequence[Any]) -> int:
    return int(sum(prod(tuple(w.shape)) for w in weights))


def _potential(layer: Any) -> tuple[Any, ...]:
    """The weights that train when the layer is trainable (BatchNorm: gamma and beta).

    A frozen layer reports no trainable weights, and Keras marks its variables untrainable,
    so the layer is made trainable for the reading and put back.
    """
    if layer.trainable:
        return tuple(layer.trainable_weights)
    layer.trainable = True
    try:
        return tuple(layer.trainable_weights)
    finally:
        layer.trainable = False


def _tree(container: Any) -> Iterator[Any]:
    """Every layer, nested models included, parents before their layers."""
    yield container
    for layer in container.layers:
        if isinstance(layer, keras.Model):
            yield from _tree(layer)
        else:
            yield layer


class KerasUnfreeze:
    """The Keras side of the strategy; `Unfreeze` drives it."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.model = handle.model
        if getattr(self.model, "optimizer", None) is None:
            raise StrategyNotApplicableError(
                f"{handle.path.name} has no optimizer to train with; pass --loss (and"
                " --optimizer) so the model can be compiled"
            )
        self.entries = dict(self._walk(self.model, "", (self.model,)))
        self.router: GroupRouter | None = None
        self.loaded_state: OptimizerState = handle.optimizer_state

    def _walk(
        self, container: Any, prefix: str, containers: tuple[Any, ...]
    ) -> Iterator[tuple[str, _Entry]]:
        for layer in container.layers:
            if isinstance(layer, keras.Model):
                yield from self._walk(layer, f"{prefix}{layer.name}/", (*containers, layer))
            elif layer.weights:
                yield prefix + layer.name, _Entry(layer, containers, _potential(layer))

    # -- reading ------------------------------------------------------------------------------
    def units(self) -> list[Unit]:
        training = {id(w) for w in self.model.trainable_weights}
        return [
            Unit(
                name=name,
                kind=type(entry.layer).__name__,
                params=_count(entry.potential),
                frozen=not any(id(w) in training for w in entry.potential),
                norm=isinstance(entry.layer, _NORMS),
                batch_norm=isinstance(entry.layer, keras.layers.BatchNormalization),
            )
            for name, entry in self.entries.items()
        ]

    def trainable_params(self) -> int:
        return _count(self.model.trainable_weights)

    def head_rate(self) -> float | None:
        return self.handle.learning_rate()

    def unknown_frozen_hint(self) -> str | None:
        """None: a .keras or .h5 file stores every layer's `trainable` flag."""
        return None

    # -- changing -----------------------------------------------------------------------------
    def unfreeze(self, blocks: Sequence[Block], mult: float, train_bn: bool) -> Stage:
        trained = [u for block in blocks for u in block.trained(train_bn)]
        kept = [u for block in blocks for u in block.kept(train_bn)]
        before = {id(w) for w in self.model.trainable_weights}
        router = self._router()
        self._set_trainable([self.entries[u.name] for u in trained])
        added = [w for w in self.model.trainable_weights if id(w) not in before]
        expected = {id(w) for u in trained for w in self.entries[u.name].potential}
        if {id(w) for w in added} != expected:
            raise RuntimeError(
                f"unfreezing {', '.join(u.name for u in trained)} made {len(added)} weights"
                f" trainable where {len(expected)} were expected"
            )
        label = "_".join(block.name.replace("/", "_") for block in blocks[:1])
        router.add_group(added, mult, label)
        rate = float(self.handle.learning_rate() or 0.0) * mult  # what the group's callable gives
        return Stage(
            trained=tuple(u.name for u in trained),
            kept=tuple(u.name for u in kept),
            parameters=_count(added),
            lr=rate,
        )

    def reattach(self, done: Sequence[Sequence[str]], mult: float) -> list[str]:
        """A continued run: the layers unfrozen before the interruption are trainable in the
        reloaded file, but their own rate is not stored; route them again at `mult` times the
        head's rate. Their group optimizers start from zero moments, as at the first stage."""
        trainable = {id(w) for w in self.model.trainable_weights}
        groups = [
            [w for name in names for w in self.entries[name].potential if id(w) in trainable]
            for names in done
        ]
        routed = {id(w) for group in groups for w in group}
        head = [w for w in self.model.trainable_weights if id(w) not in routed]
        self.router = GroupRouter(self.model, self.model.optimizer, head)
        self.handle.add_save_hook(self.router.persist)
        for names, variables in zip(done, groups, strict=True):
            if variables:
                self.router.add_group(variables, mult, names[0].replace("/", "_"))
        return [
            f"{', '.join(n for names in done for n in names)} train again at {mult:g}x the"
            " head's rate (their group moments restart)"
        ]

    def _set_trainable(self, entries: Sequence[_Entry]) -> None:
        """Make these layers train, and the nested models around them; nothing else changes."""
        tree = list(_tree(self.model))
        recorded = [(layer, bool(layer.trainable)) for layer in tree]
        turning_on = {id(e.layer) for e in entries}
        around = {id(c) for e in entries for c in e.containers}
        for layer in tree:  # outermost first: each sets everything below it
            if id(layer) in around:
                layer.trainable = True
        for layer, was in recorded:  # then every other layer back as it was, parents first
            if id(layer) in around:
                continue
            layer.trainable = True if id(layer) in turning_on else was

    def _router(self) -> GroupRouter:
        """Installed on the loaded optimizer at the first unfreezing, saved through a hook."""
        if self.router is None:
            self.router = GroupRouter(
                self.model, self.model.optimizer, self.model.trainable_weights
            )
            self.handle.add_save_hook(self.router.persist)
        return self.router

    # -- reporting ----------------------------------------------------------------------------
    def optimizer_outcome(self) -> tuple[OptimizerState, str]:
        head = self._router().head
        steps = int(head.iterations)
        kind = type(head).__name__
        restored = self.loaded_state is OptimizerState.RESTORED
        state = OptimizerState.PARTIAL if restored else self.loaded_state
        carried = (
            f"the loaded {kind} keeps training the head (moments and step count {steps:,} continue)"
            if restored
            else f"the {kind} trains the head"
        )
        detail = (
            f"{carried}; each unfrozen group trains with its own {kind} at its multiplied rate,"
            " from zero moments and step 0 (as a new torch param group would); model.keras"
            f" stores one standard {kind} at the head's rate, holding every group's moments and"
            " the head's step count: the per-group rate and the groups' own step counts are not"
            " stored, so a plain Keras fit of the output trains the unfrozen layers at the"
            " head's rate"
        )
        return state, detail

    def describe_rates(self) -> dict[str, Any]:
        return {"optimizer_groups": self._router().describe()}


SURGEON = KerasUnfreeze
