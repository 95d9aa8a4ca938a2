"""The resume report as data. Writers (JSON, Markdown, CSV, PNG) render it; none owns it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plateau_cli.adapters.base import OptimizerInfo
from plateau_cli.monitor import Monitor
from plateau_cli.run.trainer import EpochRecord, StopReason
from plateau_cli.strategies.base import StrategyOutcome

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class FileRef:
    path: Path
    sha256: str
    format: str | None = None


@dataclass(frozen=True)
class HealthNote:
    id: str
    text: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResumeReport:
    tool_version: str
    command_line: tuple[str, ...]
    framework: str
    input: FileRef
    output: FileRef | None
    out_dir: Path
    strategy: str
    outcome: StrategyOutcome
    #: The optimizer as loaded (state restored / skipped / absent), before the strategy.
    optimizer: OptimizerInfo
    monitor: Monitor
    #: Validation (`val_*`) and training metrics of the model as loaded, before any change.
    baseline: Mapping[str, float]
    #: Validation metrics right after the change, before training (equal to baseline for
    #: function-preserving changes).
    after_change: Mapping[str, float]
    best_epoch: int
    best: Mapping[str, float]
    final: Mapping[str, float]
    #: Validation metrics of the checkpoint as written (restore-best applied).
    output_metrics: Mapping[str, float]
    improved: bool
    epochs_requested: int
    history: tuple[EpochRecord, ...]
    stopped_reason: StopReason
    stopped_detail: str | None
    restored_best: bool
    events: tuple[str, ...]
    data: Mapping[str, Any]
    health: tuple[HealthNote, ...]
    notes: tuple[str, ...]
    seed: int
    batch_size: int
    duration_s: float
    #: Where the batch size came from (plateau_cli.run.batch_size: option, checkpoint, ...).
    batch_size_source: str = "option"
    batch_size_detail: str | None = None
    #: What the baseline's training metrics were measured on: {"samples", "of", "sampled"}.
    baseline_train_eval: Mapping[str, Any] | None = None
    #: Set by `--strategy auto`: the diagnosis behind the choice.
    auto: Mapping[str, Any] | None = None
    #: Set when interrupted: what `resume --continue` needs (see plateau_cli.run.continuation).
    continuation: Mapping[str, Any] | None = None

    @property
    def monitored_baseline(self) -> float | None:
        return self.baseline.get(self.monitor.metric)

    @property
    def monitored_best(self) -> float | None:
        return self.best.get(self.monitor.metric)

    @property
    def interrupted(self) -> bool:
        return self.stopped_reason is StopReason.INTERRUPTED
