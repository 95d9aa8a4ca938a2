"""What every detector needs to know about a run, worked out once.

The monitored metric (chosen as Keras would), the number of classes, the training and
validation losses, and the *reference loss* that turns "high" and "low" into numbers: ln C for
a classifier (the loss of a model that learned nothing), else the first training loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plateau_cli.diagnose.base import DiagnoseOptions
from plateau_cli.diagnose.classes import Classes, accuracy_metric, infer_classes
from plateau_cli.errors import BadInputError, UsageError
from plateau_cli.history import RunHistory
from plateau_cli.monitor import Mode, Monitor
from plateau_cli.names import canonical_name

TRAIN_LOSS = "loss"
VAL_LOSS = "val_loss"


@dataclass(frozen=True)
class Curve:
    """The finite points of one metric: `epochs[i]` is the epoch of `values[i]`."""

    name: str
    epochs: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def epoch(self, position: int) -> int:
        return int(self.epochs[position])


@dataclass(frozen=True)
class Context:
    history: RunHistory
    options: DiagnoseOptions
    monitor: Monitor
    classes: Classes
    #: ln C for a classifier, else the first training (or validation) loss; None without a loss.
    reference_loss: float | None
    reference_source: str

    @property
    def patience(self) -> int:
        return self.options.patience

    @property
    def accuracy(self) -> str | None:
        return accuracy_metric(self.history)

    def has(self, name: str) -> bool:
        return name in self.history.epochs

    def curve(self, name: str) -> Curve | None:
        """The finite points of `name` (NaN/inf are the divergence detector's business)."""
        series = self.history.get(name)
        if series is None:
            return None
        keep = np.isfinite(series.values)
        return Curve(name, series.index[keep], series.values[keep])

    def mode(self, name: str) -> Mode:
        return Mode.for_metric(name)

    def scale(self, name: str) -> float:
        """The size against which changes of `name` are called big or small.

        Losses use the reference loss; accuracy-like metrics (higher is better, within [0, 1])
        use 1; anything else its own typical magnitude.
        """
        curve = self.curve(name)
        if self.mode(name) is Mode.MIN and "loss" in name and self.reference_loss:
            return self.reference_loss
        if curve is None or len(curve) == 0:
            return 1.0
        low, high = float(curve.values.min()), float(curve.values.max())
        if self.mode(name) is Mode.MAX and low >= 0.0 and high <= 1.0:
            return 1.0
        magnitude = max(abs(float(curve.values[0])), float(np.median(np.abs(curve.values))))
        return magnitude if magnitude > 0 else 1.0


def choose_monitor(history: RunHistory, options: DiagnoseOptions, source: str = "") -> Monitor:
    """`--monitor` if given (any spelling of a logged metric), else val_loss, else loss, else
    the first validation metric, else the first metric, with the mode inferred from the name."""
    prefix = f"{source}: " if source else ""
    available = history.model_metrics()
    if not available:
        found = ", ".join(history.metrics) or "nothing"
        raise BadInputError(
            f"{prefix}no per-epoch metrics to diagnose (found: {found}); expected at least a"
            " loss or an accuracy per epoch"
        )
    if options.patience < 1:
        raise UsageError(f"--patience must be >= 1. Received: patience={options.patience}")
    if options.monitor:
        name = canonical_name(options.monitor)
        if name not in available:
            raise UsageError(
                f"{prefix}no metric {options.monitor!r}; available: {', '.join(available)}"
                " (use --monitor)"
            )
    else:
        validation = history.validation_metrics()
        name = next(
            (m for m in (VAL_LOSS, TRAIN_LOSS) if m in available),
            validation[0] if validation else available[0],
        )
    return Monitor.for_metric(name, min_delta=options.min_delta)


def build_context(history: RunHistory, options: DiagnoseOptions, monitor: Monitor) -> Context:
    classes = infer_classes(history, options.num_classes, options.num_classes_source)
    reference, source = _reference_loss(history, classes)
    return Context(history, options, monitor, classes, reference, source)


def _reference_loss(history: RunHistory, classes: Classes) -> tuple[float | None, str]:
    is_classifier = classes.known and (classes.given or accuracy_metric(history) is not None)
    if is_classifier and classes.chance_loss is not None and classes.chance_loss > 0:
        return classes.chance_loss, f"ln({classes.count}), the loss of a model that learned nothing"
    for name in (TRAIN_LOSS, VAL_LOSS):
        values = history.values(name)
        finite = values[np.isfinite(values)]
        if finite.shape[0] and abs(float(finite[0])) > 0:
            return abs(float(finite[0])), f"the first {name}"
    return None, "no loss logged"
