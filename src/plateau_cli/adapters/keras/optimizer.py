"""The optimizer: its learning rate, overriding it without losing state, and what to show.

Keras 3 keeps a constant learning rate in a variable (`optimizer.learning_rate = x` assigns it,
and a running `fit` sees the new value at its next step without retracing). An optimizer built
with a `LearningRateSchedule` has no such variable: assigning a float raises TypeError ("its
learning rate is not settable"), which is how ReduceLROnPlateau crashes on it. Swapping in a
different schedule object is allowed, but the compiled train function keeps calling the old one
until it is retraced, so per-epoch changes would silently not apply.

So a schedule is replaced once by a constant rate in a variable: a new optimizer of the same
class and hyper-parameters, built over the same trainable variables, receives every state
variable of the old one (the step count, Adam's moments, EMA copies...) and the model is
recompiled with it, keeping loss and metrics. From then on, overrides are plain assignments.
The replacement is recorded (`ScheduleReplacement`) so the report can say what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from plateau_cli.adapters.base import OptimizerInfo, OptimizerState

#: Optimizer settings worth showing in `inspect` when set (others are defaults or internals).
_SHOWN = (
    "beta_1",
    "beta_2",
    "epsilon",
    "amsgrad",
    "momentum",
    "nesterov",
    "rho",
    "centered",
    "weight_decay",
    "clipnorm",
    "clipvalue",
    "global_clipnorm",
    "use_ema",
    "ema_momentum",
    "gradient_accumulation_steps",
    "initial_accumulator_value",
    "learning_rate_power",
)


@dataclass(frozen=True)
class ScheduleReplacement:
    """A learning-rate schedule replaced by a constant rate, for the report's `changes`."""

    schedule: str
    step: int
    rate_before: float
    rate_after: float

    def describe(self) -> str:
        return (
            f"{self.schedule} schedule at step {self.step} (lr {self.rate_before:.3g}) replaced"
            f" by a constant rate {self.rate_after:.3g}; moments and step count kept"
        )


def tidy(value: float) -> float:
    """A float32 value as the shortest decimal that round-trips (0.001, not 0.0010000000474...)."""
    return float(str(np.float32(value)))


def has_rate_variable(optimizer: Any) -> bool:
    """True when the rate lives in a variable (settable); False for a schedule or a callable."""
    return isinstance(optimizer.learning_rate, keras.Variable)


def current_rate(optimizer: Any) -> float | None:
    """The rate the next step uses; a schedule is evaluated at the optimizer's `iterations`."""
    if optimizer is None:
        return None
    return tidy(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))


def schedule_name(optimizer: Any) -> str | None:
    rate = optimizer.get_config().get("learning_rate")
    if isinstance(rate, dict):
        return str(rate.get("class_name") or "a schedule")
    return None if has_rate_variable(optimizer) else type(rate).__name__


def set_rate(model: Any, lr: float) -> ScheduleReplacement | None:
    """Make `lr` the rate of the following steps, keeping the optimizer's state."""
    optimizer = model.optimizer
    if has_rate_variable(optimizer):
        optimizer.learning_rate = float(lr)
        return None
    replacement = ScheduleReplacement(
        schedule=schedule_name(optimizer) or "learning-rate",
        step=int(keras.ops.convert_to_numpy(optimizer.iterations)),
        rate_before=current_rate(optimizer) or 0.0,
        rate_after=tidy(lr),
    )
    config = optimizer.get_config()
    config["learning_rate"] = float(lr)
    fresh = type(optimizer).from_config(config)
    if optimizer.built:
        fresh.build(model.trainable_variables)
        copy_state(optimizer, fresh)
    recompile_with(model, fresh)
    return replacement


def _state_variables(optimizer: Any) -> list[Any]:
    """Every optimizer variable except the learning rate's own, in creation order."""
    rate = optimizer.learning_rate
    return [
        v
        for v in optimizer.variables
        if v is not rate and not str(getattr(v, "path", "")).endswith("/learning_rate")
    ]


def copy_state(source: Any, target: Any) -> None:
    """Assign `source`'s step count and slot variables to `target` (built over the same vars)."""
    old, new = _state_variables(source), _state_variables(target)
    shapes_old = [tuple(v.shape) for v in old]
    shapes_new = [tuple(v.shape) for v in new]
    if shapes_old != shapes_new:
        raise RuntimeError(
            f"cannot carry the optimizer state over: {len(old)} state variables of shapes"
            f" {shapes_old[:4]}... do not line up with the new optimizer's {len(new)}"
            f" ({shapes_new[:4]}...)"
        )
    for a, b in zip(old, new, strict=True):
        b.assign(a)


def assign_values(optimizer: Any, values: list[np.ndarray]) -> bool:
    """Assign stored values to a built optimizer's variables if they line up exactly."""
    variables = optimizer.variables
    if len(values) != len(variables):
        return False
    if any(tuple(v.shape) != tuple(np.shape(a)) for v, a in zip(variables, values, strict=True)):
        return False
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)
    return True


def compile_arguments(model: Any) -> dict[str, Any]:
    """The arguments `model` was compiled with, as new objects.

    The compile configuration is Keras' own record of the compile() arguments, serialised from
    the model's live objects, so deserialising it runs nothing the loaded model did not already
    hold (hence safe_mode=False is safe here: a lambda loss was already accepted).
    """
    config = model.get_compile_config() or {}
    if not config:
        return {}
    return dict(keras.saving.deserialize_keras_object(config, safe_mode=False))


def recompile_with(model: Any, optimizer: Any, **overrides: Any) -> None:
    """Compile `model` again with `optimizer` (and any overrides), keeping loss and metrics."""
    arguments = compile_arguments(model)
    arguments.update(overrides)
    arguments["optimizer"] = optimizer
    model.compile(**arguments)


def hyperparameters(optimizer: Any) -> dict[str, Any]:
    config = optimizer.get_config()
    shown: dict[str, Any] = {}
    for key in _SHOWN:
        value = config.get(key)
        if value is None or value is False or (key == "ema_momentum" and not config.get("use_ema")):
            continue
        shown[key] = tidy(value) if isinstance(value, float) else value
    rate = config.get("learning_rate")
    if isinstance(rate, dict):
        shown["schedule_config"] = dict(rate.get("config") or {})
    return shown


def optimizer_info(
    model: Any, state: OptimizerState, detail: str | None, replaced: ScheduleReplacement | None
) -> OptimizerInfo:
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return OptimizerInfo(None, None, OptimizerState.ABSENT, detail=detail)
    if replaced is not None:
        detail = "; ".join(part for part in (detail, replaced.describe()) if part)
    return OptimizerInfo(
        name=type(optimizer).__name__,
        learning_rate=current_rate(optimizer),
        state=state,
        iterations=int(keras.ops.convert_to_numpy(optimizer.iterations)),
        schedule=schedule_name(optimizer),
        detail=detail,
        hyperparameters=hyperparameters(optimizer),
    )
