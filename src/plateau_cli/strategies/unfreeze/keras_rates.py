"""Discriminative learning rates in Keras 3, exactly: one optimizer per group, routed by variable.

Keras 3 optimizers have no param groups, and two shortcuts are wrong:
- scaling the unfrozen layers' gradients by 0.3 does not scale Adam's step (Adam divides the
  first moment by the root of the second, so a constant factor cancels);
- one new optimizer over every trainable variable would share one step count: the unfrozen
  layers' zero moments would then miss Adam's bias correction (past 1,000 head steps, their
  first hundred updates come out 2.5x to 5x larger than the rate says).

So the loaded optimizer keeps training exactly the variables it was built for (the head): its
moments, step count, EMA and accumulators continue untouched, and nothing it knows changes (a
loaded optimizer given new variables fails with "Unknown variable"). Each group of unfrozen
variables gets an optimizer of the same class and settings whose learning rate is a callable,
`head.learning_rate * mult`: the multiple holds exactly, follows the head's rate if it is
changed later (as torch's `set_learning_rate` scales every param group), and follows a
LearningRateSchedule evaluated at the head's step. The group starts from zero moments at step
0, exactly as a param group added with torch's `add_param_group` does.

The routing replaces two methods on the loaded optimizer object (`apply`, which
`apply_gradients` calls, and `finalize_variable_values`, which `fit` calls at its end); its
class and config stay standard. That arrangement cannot be serialised, so just before saving,
`persist` builds one standard optimizer of the same class over every trainable variable, gives
it the head's step count and every group's moments (matched by the slot variables' names, which
Keras derives from the model variables' paths), and recompiles the model with it: the archive
loads with plain `keras.models.load_model`, without custom objects, and a later plain `fit`
continues from those moments, at the head's rate for every layer (the multiple is not stored).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from plateau_cli.adapters.keras.optimizer import recompile_with, tidy
from plateau_cli.errors import StrategyNotApplicableError


@dataclass
class Group:
    label: str
    optimizer: Any
    keys: frozenset[int]
    mult: float
    variables: int


class GroupRouter:
    """Installs itself on the loaded optimizer; `add_group` routes more variables elsewhere."""

    def __init__(self, model: Any, head: Any, head_variables: Sequence[Any]) -> None:
        import keras

        wrappers = ("LossScaleOptimizer", "MultiOptimizer")
        refuse = tuple(
            getattr(keras.optimizers, n) for n in wrappers if hasattr(keras.optimizers, n)
        )
        if isinstance(head, refuse):
            raise StrategyNotApplicableError(
                f"unfreeze cannot give unfrozen layers their own rate through a"
                f" {type(head).__name__}; resume with --optimizer adam (or the optimizer class"
                " inside it) to train with a plain optimizer"
            )
        self.model = model
        self.head = head
        if not head.built:  # a model compiled here: build it over the head only, as it was
            head.build(list(head_variables))
        self.groups: list[Group] = []
        self.persisted: dict[str, int] | None = None
        self._head_apply: Callable[..., Any] = head.apply
        self._head_finalize: Callable[..., Any] = head.finalize_variable_values
        head.apply = self.apply
        head.finalize_variable_values = self.finalize_variable_values

    def add_group(self, variables: Sequence[Any], mult: float, label: str) -> None:
        """A new optimizer for `variables`, at `mult` times the head's rate at every step."""
        head = self.head
        config = head.get_config()
        config["name"] = f"{head.name}_{label}"

        def rate() -> Any:
            return head.learning_rate * mult

        config["learning_rate"] = rate
        optimizer = type(head).from_config(config)
        optimizer.build(list(variables))
        self.groups.append(
            Group(label, optimizer, frozenset(id(v) for v in variables), mult, len(variables))
        )
        self.model.make_train_function(force=True)  # the next step traces the new routing

    # -- the two methods installed on the loaded optimizer -----------------------------------
    def apply(self, grads: Sequence[Any], trainable_variables: Sequence[Any] | None = None) -> None:
        if trainable_variables is None:  # only the head's own variables can come this way
            self._head_apply(grads)
            return
        pairs = list(zip(grads, trainable_variables, strict=True))
        for group in self.groups:
            mine = [(g, v) for g, v in pairs if id(v) in group.keys]
            if mine:
                group.optimizer.apply([g for g, _ in mine], [v for _, v in mine])
        routed = set().union(*(group.keys for group in self.groups))
        head = [(g, v) for g, v in pairs if id(v) not in routed]
        self._head_apply([g for g, _ in head], [v for _, v in head])

    def finalize_variable_values(self, var_list: Sequence[Any]) -> None:
        routed = set().union(*(group.keys for group in self.groups))
        for group in self.groups:
            group.optimizer.finalize_variable_values([v for v in var_list if id(v) in group.keys])
        self._head_finalize([v for v in var_list if id(v) not in routed])

    # -- saving ---------------------------------------------------------------------------------
    def persist(self) -> None:
        """Recompile with one standard optimizer holding every group's state (see module doc)."""
        head = self.head
        merged = type(head).from_config(head.get_config())
        merged.build(list(self.model.trainable_weights))
        sources: dict[str, list[Any]] = {}
        for optimizer in (head, *(g.optimizer for g in self.groups)):
            for variable in _state_variables(optimizer):
                sources.setdefault(variable.name, []).append(variable)
        carried = reset = 0
        for variable in _state_variables(merged):
            found = sources.get(variable.name, [])
            if len(found) == 1 and tuple(found[0].shape) == tuple(variable.shape):
                variable.assign(found[0])
                carried += 1
            else:
                reset += 1
        merged.iterations.assign(head.iterations)
        recompile_with(self.model, merged)
        self.persisted = {"state_variables_carried": carried, "state_variables_reset": reset}

    def describe(self) -> list[dict[str, Any]]:
        """One row per optimizer: the head's, then each group's, with its current rate."""
        head_lr = tidy(float(self.head.learning_rate))
        rows: list[dict[str, Any]] = [
            {"group": "head", "optimizer": type(self.head).__name__, "lr": head_lr}
        ]
        rows += [
            {
                "group": g.label,
                "optimizer": type(g.optimizer).__name__,
                "variables": g.variables,
                "lr": head_lr * g.mult,
                "lr_mult": g.mult,
            }
            for g in self.groups
        ]
        return rows


def _state_variables(optimizer: Any) -> list[Any]:
    """Slot variables (moments, accumulators, EMA copies): not the step count or the rate."""
    import keras

    skip = {id(optimizer.iterations)}
    rate = optimizer.learning_rate  # the rate's own variable, for a constant rate
    if isinstance(rate, keras.Variable):
        skip.add(id(rate))
    return [v for v in optimizer.variables if id(v) not in skip]
