"""`inspect` as data: a ModelDescription rendered into the JSON contract."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plateau_cli.adapters.base import ModelDescription, ModelHandle, UnitActivity
from plateau_cli.data.base import DataSpec, HealthWarning
from plateau_cli.jsonable import jsonable

SCHEMA_VERSION = 1


def describe_to_json(d: ModelDescription, sha256: str) -> dict[str, Any]:
    opt = d.optimizer
    return {
        "schema_version": SCHEMA_VERSION,
        "path": str(d.path),
        "sha256": sha256,
        "framework": d.framework,
        "format": d.format,
        "input_shape": jsonable(d.input_shape),
        "output_shape": jsonable(d.output_shape),
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
            "learning_rate": jsonable(opt.learning_rate),
            "schedule": opt.schedule,
            "optimizer_state": opt.state.value,
            "iterations": opt.iterations,
            "detail": opt.detail,
            "hyperparameters": jsonable(dict(opt.hyperparameters)),
        },
        "loss": d.loss,
        "metrics": list(d.metrics),
        "notes": list(d.notes),
        "extra": jsonable(dict(d.extra)),
    }


@dataclass(frozen=True)
class DataProbe:
    """What `inspect --data` measures on top of the file: losses and dead units."""

    source: str
    train: Mapping[str, float]
    val: Mapping[str, float]
    units: tuple[UnitActivity, ...]
    health: tuple[HealthWarning, ...]
    #: "keras" or "torch": where ReLUs can be observed is said in the framework's words.
    framework: str = ""

    @property
    def dead_layers(self) -> list[UnitActivity]:
        return [u for u in self.units if u.dead]


def probe_with_data(
    handle: ModelHandle, spec: DataSpec, image_size: tuple[int, int] | None, batch_size: int
) -> DataProbe:
    """Evaluate on both splits and count dead ReLU units on the training data (FINDINGS §2)."""
    from plateau_cli.data import data_health, load_data

    io = handle.io_spec()
    bundle = load_data(spec, io, image_size=image_size)
    handle.check_data(bundle)
    prepared = handle.prepare(bundle, batch_size, spec.seed)
    return DataProbe(
        source=spec.source,
        train=handle.evaluate(prepared, "train"),
        val=handle.evaluate(prepared, "val"),
        units=tuple(handle.unit_activity(prepared)),
        health=tuple(data_health(bundle, io)),
        framework=handle.framework,
    )


def probe_to_json(probe: DataProbe | None) -> dict[str, Any] | None:
    if probe is None:
        return None
    return {
        "source": probe.source,
        "train": jsonable(dict(probe.train)),
        "val": jsonable(dict(probe.val)),
        "dead_units": [
            {
                "layer": u.layer,
                "activation": u.activation,
                "units": u.units,
                "dead": u.dead,
                "nested": u.nested,
            }
            for u in probe.units
        ],
        "health": [{"id": h.id, "text": h.text} for h in probe.health],
    }
