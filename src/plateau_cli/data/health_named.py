"""`data_health` for named inputs and outputs: the same checks, input by input.

Each input of a multi-input model is its own kind of data (pixels beside a few metadata
columns), so pooling them would hide a badly scaled one behind the others: scale and
train/validation checks run per input, class imbalance per classification output. A warning
keeps its fixed id and says which input or output it is about (`evidence["input"]` or
`evidence["output"]`); where several inputs trip the same check, the first in the model's
order is reported and the evidence lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from plateau_cli.data import health
from plateau_cli.data.base import ArraySplit, DataBundle, HealthWarning

if TYPE_CHECKING:
    from plateau_cli.adapters.base import IOSpec


def named_health(
    data: DataBundle, train: ArraySplit, val: ArraySplit | None, io: IOSpec | None, partial: bool
) -> list[HealthWarning]:
    """Warnings per input and per output, at most one per id, in `data_health`'s order."""
    found: dict[str, list[HealthWarning]] = {}
    rng = np.random.default_rng(0)
    inputs = _by_name(train.x, "x")
    val_inputs = _by_name(val.x, "x") if val is not None else {}
    for key, x in inputs.items():
        x_val = val_inputs.get(key)
        label = f"input {key!r}" if isinstance(train.x, Mapping) else "the input"
        single = ArraySplit(x, np.zeros(len(x)))
        single_val = ArraySplit(x_val, np.zeros(len(x_val))) if x_val is not None else None
        numeric = x.dtype.kind in "biuf" and (x_val is None or x_val.dtype.kind in "biuf")
        train_stats = health._Stats.of(x, rng) if numeric else None
        val_stats = health._Stats.of(x_val, rng) if numeric and x_val is not None else None
        checks = [
            health._non_finite(single, single_val, partial),
            health._scale_mismatch(train_stats, val_stats) if val_stats and train_stats else None,
            health._unnormalised(train_stats, data, partial) if train_stats else None,
            health._duplicates(x, x_val) if x_val is not None and numeric else None,
        ]
        for warning in checks:
            if warning is not None:
                found.setdefault(warning.id, []).append(_about(warning, "input", key, label))
    outputs = _by_name(train.y, "y")
    val_outputs = _by_name(val.y, "y") if val is not None else {}
    for key, y in outputs.items():
        y_val = val_outputs.get(key)
        if y_val is None:
            continue
        spec = io.outputs.get(key) if io is not None and io.outputs is not None else io
        if spec is None and io is not None and io.outputs is not None:
            continue
        warning = health._imbalance(y, y_val, spec, None)
        if warning is not None:
            label = f"output {key!r}" if isinstance(train.y, Mapping) else "the labels"
            found.setdefault(warning.id, []).append(_about(warning, "output", key, label))
    order = ("non-finite", "scale-mismatch", "unnormalised-inputs", "class-imbalance", "duplicates")
    result = []
    for warning_id in order:
        warnings = found.get(warning_id)
        if warnings:
            first = warnings[0]
            if len(warnings) > 1:
                role = "inputs" if "input" in first.evidence else "outputs"
                also = [w.evidence.get("input", w.evidence.get("output")) for w in warnings]
                first = replace(first, evidence={**first.evidence, role: also})
            result.append(first)
    return result


def _by_name(arrays: Any, role: str) -> dict[str, np.ndarray]:
    if isinstance(arrays, Mapping):
        return {str(key): np.asarray(value) for key, value in arrays.items()}
    return {role: np.asarray(arrays)}


def _about(warning: HealthWarning, kind: str, key: str, label: str) -> HealthWarning:
    """The warning with the input/output it concerns named in its text and evidence."""
    return replace(
        warning,
        text=f"{label[0].upper()}{label[1:]}: {warning.text}",
        evidence={**warning.evidence, kind: key},
    )
