"""What one unfreezing step did, in the same terms for every framework."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    #: Units that now train, in the order they were unfrozen (topmost block first).
    trained: tuple[str, ...]
    #: BatchNorm units of the unfrozen blocks kept frozen, in inference mode.
    kept: tuple[str, ...]
    #: Parameters that started training.
    parameters: int
    #: Their learning rate when unfrozen (the head's times --base-lr-mult).
    lr: float
    #: Further sentences for the report (a framework-specific side effect worth knowing).
    notes: tuple[str, ...] = ()
