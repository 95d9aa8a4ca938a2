"""The control: continue training unchanged (what `trial` compares every strategy with).

Not a `resume --strategy` choice (resuming unchanged is what the user was doing); `trial` runs
it beside the candidates, from the same checkpoint, for the same epochs and seed, so that a
strategy is only called a winner when it beats simply training on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from plateau_cli.adapters.base import ModelHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.strategies.base import Strategy, StrategyContext, StrategyOutcome

CONTROL = "continue"


class Continue(Strategy):
    name: ClassVar[str] = CONTROL
    changes_parameter_set: ClassVar[bool] = False
    keeps_function: ClassVar[bool] = True
    helps_when: ClassVar[str] = "never by itself: it is the control the strategies must beat"
    does_not_help_when: ClassVar[str] = "the run has stalled: that is what the others are for"
    option_names: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_options(cls, given: Mapping[str, Any]) -> Continue:
        return cls(None)

    def apply(
        self, handle: ModelHandle, data: DataBundle, context: StrategyContext
    ) -> StrategyOutcome:
        loaded = handle.describe().optimizer
        return StrategyOutcome(
            changes=("nothing changed: continue unchanged (the control)",),
            parameters={},
            optimizer_state=loaded.state,
            optimizer_detail="kept as loaded",
        )


STRATEGY = Continue
