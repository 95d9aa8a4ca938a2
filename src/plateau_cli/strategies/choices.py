"""An option named by one of an Enum's values, read the same way by every strategy."""

from __future__ import annotations

from enum import Enum
from typing import Any

from plateau_cli.errors import UsageError


def read_choice(values: dict[str, Any], key: str, choices: type[Enum]) -> None:
    """Replace `values[key]`, if given, by its member of `choices` (case and spaces ignored);
    an unknown value is a usage error naming the valid ones."""
    if key not in values:
        return
    try:
        values[key] = choices(str(values[key]).strip().lower())
    except ValueError:
        valid = ", ".join(str(c.value) for c in choices)
        flag = "--" + key.replace("_", "-")
        raise UsageError(f"unknown {flag} {values[key]!r}; choose one of: {valid}") from None
