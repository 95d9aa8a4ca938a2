"""revive's options, validated before any framework is imported."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plateau_cli.errors import UsageError


@dataclass(frozen=True)
class ReviveOptions:
    #: Only this layer (default: every hidden ReLU layer with dead units).
    layer: str | None = None
    #: Scale of the new incoming weights relative to He's sqrt(2 / fan_in).
    init_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.layer is not None and not self.layer.strip():
            raise UsageError("revive --layer must name a layer. Received: an empty name")
        if not (math.isfinite(self.init_scale) and self.init_scale > 0):
            raise UsageError(f"--init-scale must be a positive number. Received: {self.init_scale}")

    @classmethod
    def from_given(cls, given: Mapping[str, Any]) -> ReviveOptions:
        return cls(**dict(given))
