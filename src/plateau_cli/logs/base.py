"""The log-reader interface: sniff a file by its content, read it into a RunHistory."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from plateau_cli.history import RunHistory

#: How much of a file the sniffers look at.
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class LogRead:
    """A log read into a history, with where it came from."""

    history: RunHistory
    format: str
    path: Path
    #: For TensorBoard directories: the run that was read, and the others found.
    run: str | None = None
    runs: tuple[str, ...] = field(default_factory=tuple)


class LogReader(ABC):
    """One log format. Subclasses live one per module in `plateau_cli.logs`."""

    #: The name used in `--json` output (`source.format`) and in the registry.
    format: ClassVar[str]

    @classmethod
    @abstractmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """True when `head` (the first SNIFF_BYTES of `path`) looks like this format."""

    @abstractmethod
    def read(self, path: Path, run: str | None = None) -> LogRead:
        """Read the whole file. Raise CorruptFileError for content that cannot be read."""
