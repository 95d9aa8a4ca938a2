"""Resume strategies. `build_strategy` validates options before any framework is imported."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plateau_cli import registry
from plateau_cli.errors import UsageError
from plateau_cli.strategies.base import Strategy, StrategyContext, StrategyOutcome
from plateau_cli.suggest import did_you_mean

__all__ = [
    "Strategy",
    "StrategyContext",
    "StrategyOutcome",
    "build_strategy",
    "option_owner",
    "strategy_class",
]


def strategy_class(name: str) -> type[Strategy]:
    """The class registered under `name` (imports its light module only)."""
    try:
        dotted = (
            registry.CONTROL_STRATEGY[1]
            if name == registry.CONTROL_STRATEGY[0]
            else registry.STRATEGIES[name]
        )
    except KeyError:
        names = [*registry.STRATEGIES, "auto"]
        raise UsageError(
            f"unknown strategy {name!r}; {did_you_mean(name, names)}choose one of:"
            f" {', '.join(names)}"
        ) from None
    module = registry.load(dotted)
    return module.STRATEGY


def option_owner(option: str) -> list[str]:
    """Which strategies accept `option` (for messages like '--units is an option of widen')."""
    return [n for n in registry.STRATEGIES if option in strategy_class(n).option_names]


def build_strategy(name: str, given: Mapping[str, Any]) -> Strategy:
    """Validate the user's strategy options and build the strategy.

    `given` holds only the options the user actually passed; an option that belongs to another
    strategy is an error rather than silently ignored, because a user who typed `--units 64`
    with `--strategy lr-decay` expected something to widen.
    """
    cls = strategy_class(name)
    foreign = sorted(set(given) - cls.option_names)
    if foreign:
        option = foreign[0]
        owners = option_owner(option)
        flag = "--" + option.replace("_", "-")
        where = (
            f"it is an option of {', '.join(owners)}" if owners else "it is not a strategy option"
        )
        raise UsageError(f"{flag} does not apply to --strategy {name} ({where})")
    return cls.from_options(given)
