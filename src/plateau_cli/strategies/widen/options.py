"""widen's options, validated before any framework is imported."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plateau_cli.errors import UsageError
from plateau_cli.strategies.widen.arithmetic import Init

DEFAULT_FACTOR = 2.0
#: Net2Net's copies are exact duplicates; this much noise (relative to the layer's weight
#: scale) tells them apart, as FINDINGS §1 measured.
DEFAULT_NOISE = 1e-3
#: What the benchmark showed escaping the bottleneck plateau (see the package docstring).
DEFAULT_INIT = Init.ZERO_OUT
#: Accepted spellings besides the values: `zero` is what FINDINGS and the issue called it.
INIT_ALIASES = {"zero": Init.ZERO_OUT, "zero_out": Init.ZERO_OUT, "zeroout": Init.ZERO_OUT}


@dataclass(frozen=True)
class WidenOptions:
    factor: float | None = None
    units: int | None = None
    layer: str | None = None
    init: Init = DEFAULT_INIT
    noise: float | None = None

    def __post_init__(self) -> None:
        if self.factor is not None and self.units is not None:
            raise UsageError("give --factor or --units, not both (--units sets the new width)")
        if self.factor is not None and not (math.isfinite(self.factor) and self.factor > 1.0):
            raise UsageError(
                "widen --factor must be a number above 1 (the new width is the old one times"
                f" it). Received: factor={self.factor}"
            )
        if self.units is not None and self.units < 2:
            raise UsageError(f"widen --units must be at least 2. Received: units={self.units}")
        if self.layer is not None and not self.layer.strip():
            raise UsageError("widen --layer must name a layer. Received: an empty name")
        if self.noise is not None:
            if self.init is not Init.NET2NET:
                raise UsageError(
                    f"--noise applies to --init net2net only (the init is {self.init.value}:"
                    " its new units already differ from the old ones)"
                )
            if not (math.isfinite(self.noise) and self.noise >= 0):
                raise UsageError(f"widen --noise must be >= 0. Received: noise={self.noise}")

    @property
    def effective_noise(self) -> float:
        if self.init is not Init.NET2NET:
            return 0.0
        return DEFAULT_NOISE if self.noise is None else self.noise

    def new_width(self, old: int) -> int:
        """The target width for a layer of `old` units; raises when it would not grow."""
        if self.units is not None:
            if self.units <= old:
                raise UsageError(
                    f"widen --units {self.units} does not grow the layer: it already has {old}"
                    f" units (ask for more than {old})"
                )
            return self.units
        factor = DEFAULT_FACTOR if self.factor is None else self.factor
        new = round(old * factor)
        if new <= old:
            raise UsageError(
                f"widen --factor {factor:g} adds no unit to a layer of {old} (ask for a larger"
                " factor or --units)"
            )
        return new

    def describe_growth(self) -> str:
        if self.units is not None:
            return f"to {self.units} units"
        return f"x{DEFAULT_FACTOR if self.factor is None else self.factor:g}"

    @classmethod
    def from_given(cls, given: Mapping[str, Any]) -> WidenOptions:
        values = dict(given)
        if "init" in values:
            text = str(values["init"]).strip().lower()
            try:
                values["init"] = INIT_ALIASES.get(text) or Init(text)
            except ValueError:
                valid = ", ".join(i.value for i in Init)
                raise UsageError(
                    f"unknown --init {values['init']!r}; choose one of: {valid}"
                ) from None
        return cls(**values)
