"""Mistakes found from the files alone, before the framework is imported (seconds, not a minute).

A `.keras` archive carries its architecture as JSON (config.json: every layer's `trainable`
flag, the model's `build_config.input_shape`), and an `.npz` stores each array's shape in the
header of its `.npy` member. That is enough to refuse, at once and with the same words as the
later checks, an unfreeze of a model with no frozen layer and features of the wrong shape.

Each check refuses only when the files are unambiguous; anything unusual (a legacy .h5, a
dynamic dimension, a nested input, a torch checkpoint, whose frozen parameters and input shape
only the loaded module knows) is left to the checks after loading.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from plateau_cli.adapters.sniff import KERAS_V3, Sniffed
from plateau_cli.data.aligned import read_npy_header
from plateau_cli.data.arrays import shape_text
from plateau_cli.data.fit import shape_hint, shapes_match
from plateau_cli.data.npz import read_layout
from plateau_cli.data.spec import DataSpec
from plateau_cli.errors import (
    DataMismatchError,
    PlateauError,
    StrategyNotApplicableError,
    UnsafeCheckpointError,
)
from plateau_cli.zips import DAMAGED_ZIP_ERRORS

#: config.json is a few kB; a much larger one is left to Keras (and its own limits).
_MAX_CONFIG_BYTES = 16 * 1024 * 1024


def preflight(model: Path, sniffed: Sniffed, spec: DataSpec, strategy: str | None) -> None:
    """Raise what the files already show; return quietly when they do not settle it."""
    if sniffed.format != KERAS_V3:
        return
    config = _keras_config(model)
    if config is None:
        return
    _refuse_blocked_calls(model, config)
    if strategy == "unfreeze" and not any(_frozen_flags(config)):
        raise StrategyNotApplicableError(
            f"unfreeze does not apply to {model.name}: every layer already trains (none frozen"
            " in its configuration); for a stalled model that trains fully,"
            " try --strategy lr-decay (flat or oscillating loss) or widen (underfitting at a"
            " high training loss), or run `plateau-cli diagnose` on its training log to see"
            " which"
        )
    expected = _input_shape(config)
    if expected is None or spec.kind != "npz":
        return
    shape = _npz_features_shape(spec)
    if shape is None or len(shape) < 2 or shapes_match(shape[1:], expected):
        return
    layout = np.broadcast_to(np.zeros((), np.uint8), shape)  # shape only: no memory
    raise DataMismatchError(
        f"{spec.source}: features have shape {shape_text(shape[1:])} per sample but the"
        f" model's input is {shape_text(expected)}{shape_hint(layout, expected)}"
    )


def _refuse_blocked_calls(model: Path, config: dict[str, Any]) -> None:
    """A configuration that names non-modeling Keras APIs is refused first: before the data
    or anything else about the file is looked at, the same refusal the loader makes."""
    from plateau_cli.keras_config_scan import blocked_calls, blocked_message

    calls = blocked_calls(config)
    if calls:
        raise UnsafeCheckpointError(blocked_message(model, calls))


def _keras_config(path: Path) -> dict[str, Any] | None:
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("config.json")
            if info.file_size > _MAX_CONFIG_BYTES:
                return None
            config = json.loads(archive.read(info))
    except (KeyError, ValueError, RecursionError, *DAMAGED_ZIP_ERRORS):
        return None  # the loader words a damaged file precisely
    return config if isinstance(config, dict) else None


def _frozen_flags(node: Any) -> Iterator[bool]:
    """True for every layer config that says `trainable: false`, at any depth."""
    if isinstance(node, dict):
        if node.get("trainable") is False:
            yield True
        for value in node.values():
            yield from _frozen_flags(value)
    elif isinstance(node, list):
        for value in node:
            yield from _frozen_flags(value)


def _input_shape(config: dict[str, Any]) -> tuple[int, ...] | None:
    """The per-sample input shape, only when it is one fully fixed tensor."""
    build = config.get("build_config")
    shape = build.get("input_shape") if isinstance(build, dict) else None
    if not isinstance(shape, list) or len(shape) < 2:
        return None
    sample = shape[1:]
    if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in sample):
        return None  # None (dynamic), nested lists (several inputs): left to Keras
    return tuple(sample)


def _npz_features_shape(spec: DataSpec) -> tuple[int, ...] | None:
    """The training features' shape from the .npy header inside the archive (no data read)."""
    path = Path(spec.source)
    try:
        layout = read_layout(path, spec.source, spec.val_split)
        key = layout.keys.get("x_train") or layout.keys.get("x")
        if key is None:
            return None
        with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
            header = read_npy_header(member)
        if header is None:
            return None
        shape = header[0]
    except (PlateauError, KeyError, ValueError, OSError, *DAMAGED_ZIP_ERRORS):
        return None  # loading reads the file again and words what is wrong with it
    return tuple(int(d) for d in shape)
