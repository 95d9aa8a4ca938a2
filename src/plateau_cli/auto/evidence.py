"""What auto looks at: numbers from the checkpoint and the data, and the log's diagnosis."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plateau_cli.adapters.base import ModelHandle, UnitActivity
from plateau_cli.data.base import DataBundle, Task
from plateau_cli.diagnose.base import Diagnosis
from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.jsonable import finite_or_none
from plateau_cli.strategies.base import StrategyContext


@dataclass(frozen=True)
class Evidence:
    """The facts behind a choice; every field goes into report.json's `auto.evidence`."""

    train_loss: float | None
    val_loss: float | None
    train_accuracy: float | None
    val_accuracy: float | None
    #: ln C for a classifier over C classes: the loss of a model that knows nothing.
    chance_loss: float | None
    classes: int | None
    trainable_params: int
    frozen_params: int
    learning_rate: float | None
    #: The layer widen would grow, and its width (None with the reason when nothing can grow).
    narrowest: tuple[str, int] | None
    narrowest_note: str | None
    dead: tuple[UnitActivity, ...] = ()
    diagnosis: Diagnosis | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: The data health check's warning ids (class-imbalance, unnormalised-inputs, ...) and
    #: their sentences.
    health: Mapping[str, str] = field(default_factory=dict)
    #: Sigmoid/tanh activations in the model (`saturating_layers`): a deep stack of them is
    #: where gradients vanish.
    saturating_layers: int = 0
    #: The model takes raw strings (TextVectorization, StringLookup): augment, which perturbs
    #: input values, cannot apply, so the rules that would pick it pick the next remedy.
    string_inputs: bool = False
    #: The model embeds integer token ids: augment refuses them as well (noise on an id makes
    #: another token, not a variation), so the same rules pass it over.
    token_inputs: bool = False
    #: The log is past its best epoch and that epoch's checkpoint sits beside the model:
    #: {"file", "best_epoch", "best_value", "last_value"} (regularize rolls back to it).
    rollback: Mapping[str, Any] | None = None
    #: The rate a learning-rate range test from the checkpoint suggests (lr-find's test, its
    #: weights thrown away), run only where the log alone says restart (rules.needs_range_test):
    #: a log cannot tell a rate far too low from a network that cannot learn. None: not run,
    #: or no rate lowered the loss.
    range_lr: float | None = None

    @property
    def log_actions(self) -> tuple[str, ...]:
        """The action ids of diagnose's recommendation for the log (raise-lr, rebalance...)."""
        if self.diagnosis is None:
            return ()
        return tuple(a.id.value for a in self.diagnosis.recommendation.actions)

    @property
    def worst_dead_share(self) -> float:
        return max((d.dead_share for d in self.dead), default=0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "train_loss": finite_or_none(self.train_loss),
            "val_loss": finite_or_none(self.val_loss),
            "train_accuracy": finite_or_none(self.train_accuracy),
            "val_accuracy": finite_or_none(self.val_accuracy),
            "chance_loss": finite_or_none(self.chance_loss),
            "classes": self.classes,
            "trainable_params": self.trainable_params,
            "frozen_params": self.frozen_params,
            "learning_rate": finite_or_none(self.learning_rate),
            "narrowest_layer": (
                {"name": self.narrowest[0], "width": self.narrowest[1]} if self.narrowest else None
            ),
            "narrowest_note": self.narrowest_note,
            "dead_units": [
                {"layer": d.layer, "activation": d.activation, "units": d.units, "dead": d.dead}
                for d in self.dead
            ],
            "log_verdict": self.diagnosis.verdict.value if self.diagnosis else None,
            "log_recommendation": (
                self.diagnosis.recommendation.strategy.value if self.diagnosis else None
            ),
            "log_actions": list(self.log_actions),
            "health": sorted(self.health),
            "rollback": dict(self.rollback) if self.rollback else None,
            "saturating_layers": self.saturating_layers,
            "range_test_lr": finite_or_none(self.range_lr),
            "string_inputs": self.string_inputs,
            "token_inputs": self.token_inputs,
        }

    @property
    def text_inputs(self) -> bool:
        """Strings or token ids: inputs whose values augment cannot perturb."""
        return self.string_inputs or self.token_inputs


def gather(
    handle: ModelHandle,
    bundle: DataBundle,
    prepared: Any,
    baseline: Mapping[str, float],
    context: StrategyContext,
    diagnosis: Diagnosis | None,
) -> Evidence:
    """Everything except the baseline evaluation, which resume has already done."""
    from plateau_cli.data import data_health
    from plateau_cli.strategies.widen import narrowest_target

    description = handle.describe()
    io = handle.io_spec()
    classes = io.output_units if io.task is Task.CLASSIFICATION else None
    if io.task is Task.BINARY:
        classes = 2
    try:
        narrowest: tuple[str, int] | None = narrowest_target(handle, bundle, context)
        note = None
    except StrategyNotApplicableError as exc:
        narrowest, note = None, exc.message
    return Evidence(
        train_loss=baseline.get("loss"),
        val_loss=baseline.get("val_loss"),
        train_accuracy=baseline.get("accuracy"),
        val_accuracy=baseline.get("val_accuracy"),
        chance_loss=math.log(classes) if classes and classes > 1 else None,
        classes=classes,
        trainable_params=description.trainable_params,
        frozen_params=description.frozen_params,
        learning_rate=handle.learning_rate(),
        narrowest=narrowest,
        narrowest_note=note,
        # Layers inside a nested model are shown by inspect, but revive reaches top-level
        # layers only: a dead share there must not pick it.
        dead=tuple(u for u in handle.unit_activity(prepared) if not u.nested),
        diagnosis=diagnosis,
        health={w.id: w.text for w in data_health(bundle, io)},
        saturating_layers=saturating_layers(handle),
        string_inputs=io.string_inputs,
        token_inputs=io.integer_inputs,
    )


#: Activations that saturate (gradient ~0 at both ends).
_SATURATING = {"sigmoid", "tanh", "hardsigmoid", "hardtanh", "hard_sigmoid", "logsigmoid"}


def saturating_layers(handle: ModelHandle) -> int:
    """How many sigmoid/tanh activations the model applies, the output layer's included.

    Read from the live model without importing a framework: torch modules by class name
    (nn.Sigmoid, nn.Tanh), Keras layers by their `activation` function's name. 0 when the model
    hides them (functional calls in forward, TorchScript).
    """
    model = getattr(handle, "model", None)
    if hasattr(model, "modules"):  # torch.nn.Module
        return sum(type(m).__name__.lower() in _SATURATING for m in model.modules())
    count = 0
    for layer in getattr(model, "layers", ()) or ():
        activation = getattr(layer, "activation", None)
        name = getattr(activation, "__name__", type(layer).__name__)
        count += str(name).lower() in _SATURATING
    return count
