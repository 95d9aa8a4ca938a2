"""`inspect` as data: a ModelDescription rendered into the JSON contract."""

from __future__ import annotations

import math
from typing import Any

from plateau_cli.adapters.base import ModelDescription

SCHEMA_VERSION = 1


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def describe_to_json(d: ModelDescription, sha256: str) -> dict[str, Any]:
    opt = d.optimizer
    return {
        "schema_version": SCHEMA_VERSION,
        "path": str(d.path),
        "sha256": sha256,
        "framework": d.framework,
        "format": d.format,
        "input_shape": _plain(d.input_shape),
        "output_shape": _plain(d.output_shape),
        "layers": [
            {
                "name": layer.name,
                "type": layer.kind,
                "output_shape": layer.output_shape,
                "params": layer.params,
                "trainable_params": layer.trainable_params,
                "trainable": layer.trainable,
            }
            for layer in d.layers
        ],
        "params": {
            "total": d.trainable_params + d.frozen_params,
            "trainable": d.trainable_params,
            "frozen": d.frozen_params,
        },
        "optimizer": {
            "name": opt.name,
            "learning_rate": _plain(opt.learning_rate),
            "schedule": opt.schedule,
            "optimizer_state": opt.state.value,
            "iterations": opt.iterations,
            "detail": opt.detail,
            "hyperparameters": _plain(dict(opt.hyperparameters)),
        },
        "loss": d.loss,
        "metrics": list(d.metrics),
        "notes": list(d.notes),
        "extra": _plain(dict(d.extra)),
    }
