"""JSON text to Python objects without letting malformed or hostile input escape as a traceback."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

#: Keys nested deeper than this are ignored (`{"val": {"loss": 0.4}}` is depth 2).
MAX_DEPTH = 3


class JsonProblem(Exception):
    """Text that is not JSON; the message says where."""


def loads(text: str) -> Any:
    """json.loads, with every failure (syntax, absurd nesting, huge numbers) as JsonProblem."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonProblem(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (RecursionError, ValueError, OverflowError) as exc:
        raise JsonProblem(f"{type(exc).__name__}: {str(exc)[:80]}") from None


def numbers(obj: dict, prefix: str = "", depth: int = 1) -> Iterator[tuple[str, float]]:
    """(flattened name, value) for every number in a JSON object: `{"val": {"loss": 1}}` gives
    `("val_loss", 1.0)`. Booleans and strings are not metrics; NaN and Infinity are."""
    for key, value in obj.items():
        name = f"{prefix}_{key}" if prefix else str(key)
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            number = float(value) if abs(value) < 1e308 or isinstance(value, float) else math.inf
            yield name, number
        elif isinstance(value, dict) and depth < MAX_DEPTH:
            yield from numbers(value, name, depth + 1)
