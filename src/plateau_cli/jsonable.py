"""Values made safe for the JSON documents plateau-cli writes: one place, every writer.

JSON has no NaN or infinity, so a non-finite number becomes null (diagnose's evidence is the
one exception: its contract spells them "nan"/"inf", in diagnose/json_output.py). Anything that
is not a JSON type (a Path, an enum of another kind) becomes its string.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def finite_or_none(value: Any) -> Any:
    """A float that is NaN or infinite becomes None; everything else is returned as it is."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def jsonable(value: Any) -> Any:
    """Mappings and sequences recursively, numbers finite or None, the rest as strings."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return finite_or_none(value)
    if hasattr(value, "value") and isinstance(value.value, str):  # enums
        return value.value
    return str(value)
