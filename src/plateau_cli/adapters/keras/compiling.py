"""Compile choices: a model saved without compile(), `--loss`/`--optimizer` given by the user.

Always compiled with keywords: `compile(optimizer, loss, metrics)` positionally puts the metrics
into `loss_weights` in Keras 3 (FINDINGS §5). A model compiled here for a classification loss
gets `accuracy`, so the report and early stopping have the metric people read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from plateau_cli.adapters.base import LoadOptions, OptimizerState
from plateau_cli.adapters.keras import optimizer as opt
from plateau_cli.data.base import Task
from plateau_cli.errors import UsageError

#: Loss name -> (task, integer labels?). Names as Keras spells the functions.
LOSS_TASKS: dict[str, tuple[Task, bool]] = {
    "sparse_categorical_crossentropy": (Task.CLASSIFICATION, True),
    "categorical_crossentropy": (Task.CLASSIFICATION, False),
    "categorical_focal_crossentropy": (Task.CLASSIFICATION, False),
    "binary_crossentropy": (Task.BINARY, True),
    "binary_focal_crossentropy": (Task.BINARY, True),
    "mean_squared_error": (Task.REGRESSION, False),
    "mean_absolute_error": (Task.REGRESSION, False),
    "mean_absolute_percentage_error": (Task.REGRESSION, False),
    "mean_squared_logarithmic_error": (Task.REGRESSION, False),
    "huber": (Task.REGRESSION, False),
    "log_cosh": (Task.REGRESSION, False),
}
_ALIASES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "huber_loss": "huber",
    "logcosh": "log_cosh",
}
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam", "lion")
LOSS_EXAMPLES = (
    "sparse_categorical_crossentropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "mse",
    "mae",
)


def canonical_loss(name: str) -> str:
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def loss_name(loss: Any) -> str | None:
    """A loss as Keras spells its function: a string, a Loss object or a function."""
    if loss is None:
        return None
    if isinstance(loss, str):
        return canonical_loss(loss)
    if isinstance(loss, list | tuple):
        names = [loss_name(item) or "?" for item in loss]
        return ", ".join(names)
    if isinstance(loss, dict):
        return ", ".join(f"{k}: {loss_name(v)}" for k, v in loss.items())
    function = getattr(loss, "fn", None)
    if callable(function) and hasattr(function, "__name__"):
        return canonical_loss(function.__name__)
    if isinstance(loss, keras.losses.Loss):
        return canonical_loss(loss.name)
    return canonical_loss(getattr(loss, "__name__", type(loss).__name__))


def compile_fresh(model: Any, path: Path, options: LoadOptions) -> tuple[OptimizerState, str]:
    """Compile a model saved without compile(), from the user's --loss/--optimizer/--lr."""
    if options.loss is None:
        raise UsageError(
            f"{path.name} was saved without compile(); pass --loss (e.g."
            " sparse_categorical_crossentropy) and optionally --optimizer/--lr"
        )
    loss = _checked_loss(options.loss)
    optimizer = new_optimizer(options.optimizer or "adam", options.lr)
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics_for(loss))
    return OptimizerState.ABSENT, (
        f"saved without compile(): a new {type(optimizer).__name__} (learning rate"
        f" {opt.current_rate(optimizer):g}) starts from zero, with loss {loss}"
    )


def replace_compile_choices(
    model: Any,
    options: LoadOptions,
    state: OptimizerState,
    detail: str | None,
) -> tuple[OptimizerState, str | None, list[str]]:
    """Apply --loss/--optimizer given for a model that was saved compiled."""
    notes: list[str] = []
    overrides: dict[str, Any] = {}
    current = model.optimizer
    saved_loss = loss_name(model.loss)
    if options.loss is not None and canonical_loss(options.loss) != saved_loss:
        overrides["loss"] = _checked_loss(options.loss)
        notes.append(f"loss {saved_loss} -> {overrides['loss']} (--loss)")
    wanted = options.optimizer
    if wanted is not None and wanted.strip().lower() != type(current).__name__.lower():
        fresh = new_optimizer(wanted, options.lr)
        notes.append(
            f"optimizer {type(current).__name__} -> {type(fresh).__name__} (--optimizer): the"
            " saved optimizer state is not used"
        )
        state, detail = (
            OptimizerState.RESET,
            (
                f"--optimizer {wanted} replaced the saved {type(current).__name__}; the new"
                " optimizer starts from zero"
            ),
        )
        current = fresh
    if overrides or current is not model.optimizer:
        opt.recompile_with(model, current, **overrides)
    return state, detail, notes


def repair_legacy_metrics(entry: Any) -> Any:
    """Keras-2 `.h5` metrics, made callable again (a Keras 3.15 bug worked around).

    tf.keras 2.13+ stores `metrics=["accuracy"]` as a MeanMetricWrapper whose `fn` is the
    string "sparse_categorical_accuracy"; Keras 3.15 rebuilds the wrapper with that string as
    its function, so the model loads, and the first evaluate() or fit() fails with "'str'
    object is not callable". The wrapper is rebuilt around the function of that name.
    """
    if isinstance(entry, list | tuple):
        return type(entry)(repair_legacy_metrics(item) for item in entry)
    if isinstance(entry, dict):
        return {key: repair_legacy_metrics(value) for key, value in entry.items()}
    function_name = getattr(entry, "_fn", None)  # private: the wrapped function itself
    if not isinstance(entry, keras.metrics.MeanMetricWrapper) or not isinstance(function_name, str):
        return entry
    function = getattr(keras.metrics, function_name, None) or getattr(
        keras.losses, function_name, None
    )
    if not callable(function) or isinstance(function, type):
        return function_name  # let compile() resolve the name (or say it cannot)
    return keras.metrics.MeanMetricWrapper(fn=function, name=entry.name, dtype=entry.dtype)


def new_optimizer(name: str, lr: float | None) -> Any:
    try:
        optimizer = keras.optimizers.get(name.strip().lower())
    except ValueError as exc:
        raise UsageError(f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}") from exc
    if lr is not None:
        optimizer.learning_rate = float(lr)
    return optimizer


def _checked_loss(name: str) -> str:
    loss = canonical_loss(name)
    try:
        keras.losses.get(loss)
    except (ValueError, TypeError) as exc:
        raise UsageError(
            f"unknown loss {name!r}; use a Keras loss name such as {', '.join(LOSS_EXAMPLES)}"
        ) from exc
    return loss


def metrics_for(loss: str) -> list[str] | None:
    task = LOSS_TASKS.get(canonical_loss(loss))
    if task is not None and task[0] in (Task.CLASSIFICATION, Task.BINARY):
        return ["accuracy"]
    return None
