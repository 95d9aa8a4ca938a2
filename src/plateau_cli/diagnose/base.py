"""The vocabulary of diagnose: finding kinds, severities, actions, and the result dataclasses.

The kinds and action ids are contracts (scripts branch on them): add new members only next to
these, never rename one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from plateau_cli.history import RunHistory
from plateau_cli.monitor import Monitor

Evidence = Mapping[str, float | int | str | bool | None]


class FindingKind(str, Enum):
    HEALTHY = "healthy"
    CONVERGED = "converged"
    PLATEAU = "plateau"
    UNDERFITTING = "underfitting"
    OVERFITTING = "overfitting"
    OSCILLATION = "oscillation"
    DIVERGENCE = "divergence"
    NO_LEARNING = "no-learning"
    CHANCE_LEVEL = "chance-level"
    MAJORITY_CLASS = "majority-class"
    SLOW_CONVERGENCE = "slow-convergence"
    IMPROPER_LOSS = "improper-loss"
    UNNORMALIZED_INPUTS = "unnormalized-inputs"


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class ActionId(str, Enum):
    CHECK_DATA = "check-data"
    REBALANCE = "rebalance"
    NORMALIZE_INPUTS = "normalize-inputs"
    RAISE_LR = "raise-lr"
    REGULARIZE = "regularize"
    RESTORE_BEST = "restore-best"
    STOP = "stop"
    CHECK_FROZEN = "check-frozen"
    RESTART = "restart"
    INSPECT = "inspect"


class StrategyName(str, Enum):
    """What `resume --strategy` accepts; `none` appears only in recommendations."""

    LR_DECAY = "lr-decay"
    AUGMENT = "augment"
    WIDEN = "widen"
    UNFREEZE = "unfreeze"
    LR_FIND = "lr-find"
    REBALANCE = "rebalance"
    NORMALIZE = "normalize"
    REVIVE = "revive"
    REGULARIZE = "regularize"
    NONE = "none"


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    severity: Severity
    metric: str | None
    epoch_start: int | None
    epoch_end: int | None
    summary: str
    evidence: Evidence = field(default_factory=dict)

    @property
    def actionable(self) -> bool:
        return self.severity is not Severity.INFO


@dataclass(frozen=True)
class Action:
    id: ActionId
    text: str


@dataclass(frozen=True)
class Recommendation:
    strategy: StrategyName
    reason: str
    alternatives: tuple[StrategyName, ...] = ()
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class DiagnoseOptions:
    """Options shared with Keras' callbacks: `monitor`, `patience`, `min_delta`."""

    monitor: str | None = None
    patience: int = 5
    min_delta: float = 0.0
    #: Number of classes when known (from the model or the user); inferred from the log if None.
    num_classes: int | None = None
    #: Where `num_classes` came from, shown in evidence ("--num-classes", "the labels in --data").
    num_classes_source: str = "--num-classes"


class Confidence(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class Diagnosis:
    history: RunHistory
    monitor: Monitor
    verdict: FindingKind
    findings: tuple[Finding, ...]
    recommendation: Recommendation
    #: The other findings the verdict explains (a cause and its symptoms).
    explains: tuple[FindingKind, ...] = ()
    confidence: Confidence = Confidence.HIGH
    #: Why the confidence is not high, in words (empty when it is).
    confidence_reason: str = ""

    @property
    def actionable(self) -> bool:
        return any(f.actionable for f in self.findings)


@dataclass(frozen=True)
class DiagnoseResult:
    """A diagnosis together with the log it came from and the command to run next."""

    diagnosis: Diagnosis
    #: `plateau_cli.logs.base.LogRead` (typed loosely to keep this module free of the readers).
    read: object
    next_command: str | None
