"""`inspect` without code: what a torch file says by itself.

A bare state dict, a safetensors file, a checkpoint dict or an `optimizer.pt` cannot be turned
into a module without the code that builds it, but they still tell a lot: every tensor's name,
shape and dtype (so the parameter count per module), the optimizer's class (read from its
param-group entries), its groups and their hyper-parameters, its step count, a scheduler's
position, and scalars such as `epoch` or `best_acc1`. `--model-factory` adds the module view.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from plateau_cli.adapters import sniff
from plateau_cli.adapters.base import (
    LayerInfo,
    LoadOptions,
    ModelDescription,
    OptimizerInfo,
    OptimizerState,
)
from plateau_cli.adapters.torch import layouts
from plateau_cli.adapters.torch.layouts import SCHEDULER_KEYS, detect_layout, is_state_dict
from plateau_cli.adapters.torch.loading import load_safetensors, load_torch_file
from plateau_cli.adapters.torch.optimizer import infer_class
from plateau_cli.errors import PlateauError, UnknownFormatError

#: Entries that hold the weights in checkpoint dicts, in the order they are looked for.
_WEIGHT_KEYS = ("state_dict", "model_state_dict", "model", "net", "module", "weights")
_OPTIMIZER_KEYS = ("optimizer", "optimizer_state_dict", "optim", "optimizer_states")
_SHOWN_GROUP_KEYS = ("lr", "weight_decay", "momentum", "betas", "eps")
#: `format` of a file holding only an optimizer's or a scheduler's state.
OPTIMIZER_STATE, SCHEDULER_STATE = "optimizer-state", "scheduler-state"


def describe_file(path: Path, fmt: str, options: LoadOptions) -> ModelDescription:
    """The file-only view; raises UnknownFormatError when the file holds nothing readable."""
    obj = _read(path, fmt, options)
    weights, optimizer, scheduler, scalars, keys = _parts(obj)
    if weights is None and optimizer is None and scheduler is None:
        raise UnknownFormatError(
            f"{path}: holds neither tensors nor optimizer or scheduler state plateau-cli can"
            " read; pass --model-factory if it is a model checkpoint"
        )
    layers = _layers(weights or {})
    params = sum(layer.params for layer in layers)
    notes = [
        "read from the file alone (no --model-factory): tensor names, shapes and dtypes;"
        " pass --model-factory for the module view (layer types, output shapes, frozen layers)"
    ]
    if keys:
        notes.append(f"top-level entries: {', '.join(keys)}")
    if scalars:
        notes.append(", ".join(f"{k} {v}" for k, v in scalars.items()))
    return ModelDescription(
        framework="torch",
        format=_format_name(path, fmt, obj, weights, optimizer, scheduler),
        path=path,
        layers=tuple(layers),
        trainable_params=params,
        frozen_params=0,
        optimizer=_optimizer_info(optimizer, scheduler),
        loss=None,
        metrics=(),
        input_shape=None,
        output_shape=None,
        notes=tuple(notes),
        extra={"entries": list(keys), **scalars},
    )


def _read(path: Path, fmt: str, options: LoadOptions) -> Any:
    if fmt == sniff.SAFETENSORS:
        return load_safetensors(path).obj
    if fmt == sniff.HF_DIRECTORY:
        files = {name: path / name for name in ("model.safetensors", "optimizer.pt")}
        out: dict[str, Any] = {}
        if files["model.safetensors"].is_file():
            out["model"] = load_safetensors(files["model.safetensors"]).obj
        if files["optimizer.pt"].is_file():
            out["optimizer"] = load_torch_file(files["optimizer.pt"], trust_pickle=False).obj
        if (path / "scheduler.pt").is_file():
            out["scheduler"] = load_torch_file(path / "scheduler.pt", trust_pickle=False).obj
        return out
    return load_torch_file(path, trust_pickle=options.trust_pickle).obj


def _parts(obj: Any) -> tuple[Any, Any, Any, dict[str, Any], list[str]]:
    if not isinstance(obj, Mapping):
        return None, None, None, {}, []
    if _is_optimizer_state(obj):
        return None, obj, None, {}, []
    if "base_lrs" in obj or "num_bad_epochs" in obj:
        return None, None, obj, {}, []
    if is_state_dict(obj, strict=False):
        return obj, None, None, {}, []
    weights = next((obj[k] for k in _WEIGHT_KEYS if isinstance(obj.get(k), Mapping)), None)
    optimizer = next((obj[k] for k in _OPTIMIZER_KEYS if k in obj), None)
    if isinstance(optimizer, list | tuple):
        optimizer = optimizer[0] if optimizer else None
    if not (isinstance(optimizer, Mapping) and _is_optimizer_state(optimizer)):
        optimizer = None
    scheduler = next((obj[k] for k in SCHEDULER_KEYS if obj.get(k) is not None), None)
    if isinstance(scheduler, list | tuple):
        scheduler = scheduler[0] if scheduler else None
    scalars: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, np.generic | torch.Tensor) and np.size(value) == 1:
            scalars[str(key)] = value.item()
        elif isinstance(value, bool | int | float | str) and len(str(value)) < 80:
            scalars[str(key)] = value
    return weights, optimizer, scheduler, scalars, [str(k) for k in obj]


def _is_optimizer_state(obj: Mapping[str, Any]) -> bool:
    return isinstance(obj.get("param_groups"), list) and isinstance(obj.get("state"), Mapping)


def _layers(weights: Mapping[str, Any]) -> list[LayerInfo]:
    """One row per module: its tensors' shapes and dtype, and its parameter count."""
    grouped: dict[str, list[tuple[str, torch.Tensor]]] = {}
    for name, value in weights.items():
        if isinstance(value, torch.Tensor):
            module, _, leaf = str(name).rpartition(".")
            grouped.setdefault(module or "(top)", []).append((leaf, value))
    rows = []
    for module, tensors in grouped.items():
        params = sum(
            t.numel() for leaf, t in tensors if t.is_floating_point() and not _buffer(leaf)
        )
        dtypes = sorted({str(t.dtype).removeprefix("torch.") for _, t in tensors})
        shapes = "; ".join(f"{leaf} {tuple(t.shape)}" for leaf, t in tensors)
        rows.append(LayerInfo(module, "/".join(dtypes), shapes, params, params))
    return rows


def _buffer(leaf: str) -> bool:
    return leaf in {"running_mean", "running_var", "num_batches_tracked"}


def _optimizer_info(optimizer: Any, scheduler: Any) -> OptimizerInfo:
    schedule = _schedule(scheduler) if isinstance(scheduler, Mapping) else None
    if optimizer is None:
        return OptimizerInfo(None, None, OptimizerState.ABSENT, schedule=schedule)
    name, why = infer_class(optimizer)
    groups = optimizer["param_groups"]
    described = []
    for index, group in enumerate(groups):
        shown = ", ".join(
            f"{k} {_plain(group[k])}" for k in _SHOWN_GROUP_KEYS if group.get(k) is not None
        )
        described.append(f"group {index}: {len(group.get('params', []))} tensors, {shown}")
    steps = [
        float(entry["step"])
        for entry in optimizer["state"].values()
        if isinstance(entry, Mapping) and "step" in entry
    ]
    lr = groups[0].get("lr") if groups else None
    return OptimizerInfo(
        name=name,
        learning_rate=float(lr) if isinstance(lr, int | float | torch.Tensor) else None,
        state=OptimizerState.RESTORED,
        iterations=int(max(steps)) if steps else None,
        schedule=schedule,
        detail=f"class read from the file: {why}; " + "; ".join(described),
        hyperparameters={"param_groups": len(groups)},
    )


def _schedule(state: Mapping[str, Any]) -> str:
    if "num_bad_epochs" in state:
        return (
            f"ReduceLROnPlateau (best {_plain(state.get('best'))}, {state.get('num_bad_epochs')}"
            f" bad epochs of patience {state.get('patience')})"
        )
    kind = "OneCycleLR" if "total_steps" in state else "scheduler"
    return (
        f"{kind} at step {state.get('last_epoch')}, base rates"
        f" {[_plain(b) for b in state.get('base_lrs', [])]}"
    )


def _format_name(
    path: Path, fmt: str, obj: Any, weights: Any, optimizer: Any, scheduler: Any
) -> str:
    """The layout's name as the adapter gives it (torch-state-dict, lightning-ckpt...)."""
    if weights is None:
        return OPTIMIZER_STATE if optimizer is not None else SCHEDULER_STATE
    if fmt in {sniff.SAFETENSORS, sniff.HF_DIRECTORY}:
        return fmt
    try:
        return detect_layout(obj, str(path)).format
    except PlateauError:
        return layouts.CHECKPOINT_DICT


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value)
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, tuple | list):
        return tuple(_plain(v) for v in value)
    return value
