"""The project's error hierarchy and exit statuses.

Every error a user can cause is a `PlateauError` carrying a one-line message and its exit status.
Only `cli.py` turns them into output, so bad input never shows a traceback, and a bug (any other
exception) stays distinguishable from bad input.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ExitStatus(IntEnum):
    """Exit codes (a contract: scripts branch on them)."""

    SUCCESS = 0
    #: `diagnose`: actionable findings; `resume --require-improvement`: it did not improve.
    FINDINGS = 1
    NOT_IMPROVED = 1
    #: Bad usage or bad input: one line on stderr, nothing half-written.
    BAD_INPUT = 2
    #: Ctrl-C or SIGTERM: the last good checkpoint and an interrupted report are on disk.
    INTERRUPTED = 130


class PlateauError(Exception):
    """Base class: a message for a person and the exit status that goes with it."""

    exit_status: ExitStatus = ExitStatus.BAD_INPUT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadInputError(PlateauError):
    """A path, an option or a value that cannot be used as given."""


class UsageError(BadInputError):
    """Options that conflict or are missing."""


class UnknownFormatError(BadInputError):
    """A file whose content matches none of the formats we read."""


class CorruptFileError(BadInputError):
    """A file of a known format that cannot be read (truncated, damaged, from a newer version)."""


class CorruptCheckpointError(CorruptFileError):
    """A checkpoint of a known format that cannot be loaded."""


class UnsafeCheckpointError(BadInputError):
    """A checkpoint that can only be opened by running code from it (pickle, Lambda layers)."""


class DataMismatchError(BadInputError):
    """Training data that does not fit the model (shapes, label range, dtype)."""


class StrategyNotApplicableError(BadInputError):
    """The chosen strategy cannot change this model (nothing frozen, nothing to widen...)."""


class MissingDependencyError(BadInputError):
    """An optional dependency (TensorFlow, PyTorch, ...) needed for this input is not installed."""


class OutputError(PlateauError):
    """The output cannot be written (read-only directory, full disk); the input is untouched."""


class ResourceError(PlateauError):
    """The framework ran out of memory or another resource."""


class NothingToChange(PlateauError):
    """`resume --strategy auto` on a run whose log says it converged or is healthy, or one only
    a restart from scratch can help (auto's `restart` rule, the change named): no training,
    exit 0, one line saying so. A decision, not a failure: exit 1 is DESIGN's "diagnose found
    something" / "did not improve", and a user who wants a resume anyway names a strategy."""

    exit_status = ExitStatus.SUCCESS

    def __init__(self, message: str, decision: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        #: auto's record (chosen, rule, reason, evidence): what `--json` prints, since a script
        #: reading stdout must get a document even when nothing was trained.
        self.decision = decision
