"""The strategy interface: one targeted change to a loaded model, then training resumes.

A strategy declares its name, whether it changes the parameter set (and so the optimizer
state), and an options dataclass validated on construction — before any framework loads, so a
bad option fails in milliseconds. The framework-specific surgery lives beside it
(`strategies/<name>/keras.py`, `torch.py`) and is imported only when applied.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from plateau_cli.adapters.base import LoadOptions, ModelHandle, OptimizerState
from plateau_cli.data.base import DataBundle
from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.history import RunHistory
from plateau_cli.monitor import Monitor


@dataclass(frozen=True)
class StrategyContext:
    """What a strategy may need to know about the run it is part of."""

    monitor: Monitor
    epochs: int
    seed: int
    batch_size: int
    #: The loaded model's metrics before any change: training (`loss`) and validation
    #: (`val_loss`), as the report's `baseline` (augment compares its training loss with them).
    baseline: Mapping[str, float] = field(default_factory=dict)
    #: The rate the user set with --lr, already applied before `apply`: a strategy that would
    #: change the rate itself (augment's --lr-mult) leaves it alone. None: the restored rate.
    lr_override: float | None = None
    #: The run's log (--log) and the checkpoint it was loaded from, with how it was loaded:
    #: regularize rolls back to the log's best epoch from a checkpoint beside the model.
    log: RunHistory | None = None
    model_path: Path | None = None
    load: LoadOptions | None = None


@dataclass(frozen=True)
class StrategyOutcome:
    """What `apply` did, in words for the report and in numbers for scripts."""

    #: Human-readable, e.g. "learning rate 0.01 -> 0.001 (overrides the restored optimizer's rate)".
    changes: tuple[str, ...]
    #: Every parameter the strategy used, defaults included.
    parameters: Mapping[str, Any]
    #: What became of the optimizer state through the change.
    optimizer_state: OptimizerState
    optimizer_detail: str | None = None
    #: Strategy-specific figures (max |output change|, transforms, layers unfrozen...).
    details: Mapping[str, Any] = field(default_factory=dict)


class Strategy(ABC):
    """Base class; subclasses live one per package under `plateau_cli.strategies`."""

    name: ClassVar[str]
    #: True when the model gains or loses trainable parameters (widen, unfreeze).
    changes_parameter_set: ClassVar[bool]
    #: True when `apply` touches only the optimizer, so the model computes exactly what it did:
    #: its validation metrics after the change are the baseline's, not measured a second time.
    keeps_function: ClassVar[bool] = False
    #: When it helps and when it does not: shown in `--help` and the README.
    helps_when: ClassVar[str]
    does_not_help_when: ClassVar[str]
    #: The option names (CLI spelling without dashes, underscores) this strategy accepts.
    option_names: ClassVar[frozenset[str]]

    def __init__(self, options: Any) -> None:
        self.options = options

    @classmethod
    @abstractmethod
    def from_options(cls, given: Mapping[str, Any]) -> Strategy:
        """Build from the options the user gave (absent ones take the strategy's defaults)."""

    @abstractmethod
    def apply(
        self, handle: ModelHandle, data: DataBundle, context: StrategyContext
    ) -> StrategyOutcome:
        """Change the model (or its data pipeline, or its optimizer) before training resumes."""

    def on_epoch_begin(self, handle: ModelHandle, epoch: int) -> list[str]:
        """Per-epoch changes (lr schedules, gradual unfreezing); returns what changed, in words."""
        return []

    def on_epoch_end(self, handle: ModelHandle, epoch: int, logs: Mapping[str, float]) -> list[str]:
        """Reactions to the finished epoch (the `plateau` lr schedule)."""
        return []

    def continuation_state(self) -> dict[str, Any]:
        """What `reattach` needs to pick this strategy up again in a continued run (JSON-able)."""
        return {}

    def reattach(
        self,
        handle: ModelHandle,
        data: DataBundle,
        context: StrategyContext,
        state: Mapping[str, Any],
        epochs_done: int,
    ) -> list[str]:
        """Re-establish, on a model reloaded from a continuation checkpoint, what the checkpoint
        cannot hold (a data transform, per-group rates, a schedule's position), without making
        the change a second time. Returns what was re-established, in words.

        Strategies whose whole effect lives in the saved checkpoint need do nothing.
        """
        return []

    def epoch_metrics(self, handle: ModelHandle) -> dict[str, float]:
        """Metrics the framework does not compute, added to every epoch's logs before the
        trainer judges it (rebalance's `val_balanced_accuracy`)."""
        return {}

    @property
    def monitored_metric(self) -> str | None:
        """A metric this strategy must be judged on instead of --monitor (None: --monitor)."""
        return None

    def final_details(self) -> dict[str, Any]:
        """Figures measured after training, added to the outcome's details in the report."""
        return {}

    @property
    def needs_epoch_segments(self) -> bool:
        """True when the model must be rebuilt between epochs, so fit runs one epoch at a time."""
        return False


def refuse_named_io(strategy: str, handle: ModelHandle, data: DataBundle, does: str) -> None:
    """Refuse (not applicable, exit 2; auto falls back) a model with several named inputs or
    outputs, or data given by name, for a strategy built around one input array and one label
    array (augment perturbs one feature array, normalize folds one input's scaling into the
    first layer, rebalance weighs the classes of one output)."""
    io = handle.io_spec()
    if not (io.is_multi or data.is_multi or _named_dataset(data)):
        return
    parts = []
    if io.inputs is not None:
        parts.append(f"inputs {', '.join(map(repr, io.inputs))}")
    if io.outputs is not None:
        parts.append(f"outputs {', '.join(map(repr, io.outputs))}")
    has = f"this model has {' and '.join(parts)}" if parts else "the data is given by name"
    raise StrategyNotApplicableError(
        f"{strategy} {does}, and {has}; try --strategy lr-decay, lr-find or regularize"
    )


def _named_dataset(data: DataBundle) -> bool:
    """A framework dataset whose elements are ({name: tensor}, ...) (read from its spec only)."""
    spec = getattr(data.train, "element_spec", None)
    return isinstance(spec, tuple) and bool(spec) and isinstance(spec[0], Mapping)
