"""Where the weights, the optimizer state and the epoch are, found by content.

`torch.save` writes whatever dict the user's script built: `model_state_dict` in the tutorial,
`state_dict`/`net`/`model` elsewhere, `optimizer`/`optim`, an `epoch` and often more. The names
are a hint, the content decides: a state dict is a mapping of names to tensors, an optimizer
state is a mapping with `state` and `param_groups`. Lightning `.ckpt` files are recognised by
their own entries (`pytorch-lightning_version`, `optimizer_states`, `loops`), so they are read
and written without Lightning installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from plateau_cli.errors import UnknownFormatError

CHECKPOINT_DICT = "torch-checkpoint-dict"
LIGHTNING = "lightning-ckpt"
STATE_DICT = "torch-state-dict"
SAFETENSORS = "safetensors"
TORCHSCRIPT = "torchscript"
PICKLED_MODULE = "torch-pickled-module"

#: Preferred names, in order; content is checked for every one of them.
MODEL_KEYS = (
    "model_state_dict",
    "state_dict",
    "model_state",
    "model",
    "net",
    "net_state_dict",
    "network",
    "module",
    "weights",
    "model_weights",
)
OPTIMIZER_KEYS = (
    "optimizer_state_dict",
    "optimizer",
    "optim",
    "opt",
    "optimizer_state",
    "optim_state_dict",
    "optimizer_states",
)
EPOCH_KEYS = ("epoch", "current_epoch", "start_epoch", "last_epoch")
STEP_KEYS = ("global_step", "step", "steps", "iteration", "iterations", "iter")
SCHEDULER_KEYS = ("scheduler", "lr_scheduler", "scheduler_state_dict", "lr_schedulers", "sched")
_LIGHTNING_MARKERS = ("pytorch-lightning_version", "optimizer_states", "loops", "lr_schedulers")


@dataclass(frozen=True)
class Layout:
    """The shape of a loaded checkpoint: which entry holds what."""

    format: str
    #: The entry holding the weights (a state dict or, trusted, a module); None when the whole
    #: object is the weights (bare state dict, safetensors) or the module itself.
    model_key: str | None = None
    optimizer_key: str | None = None
    #: Position in a list of optimizer states (Lightning's `optimizer_states`), else None.
    optimizer_index: int | None = None
    optimizer_count: int = 0
    epoch_keys: tuple[str, ...] = ()
    step_keys: tuple[str, ...] = ()
    scheduler_keys: tuple[str, ...] = ()
    #: Top-level entries, for `inspect`.
    keys: tuple[str, ...] = ()
    #: Other entries that also look like state dicts (an EMA copy...), written back unchanged.
    other_state_dicts: tuple[str, ...] = ()

    def model_entry(self, obj: Any) -> Any:
        return obj if self.model_key is None else obj[self.model_key]

    def optimizer_entry(self, obj: Any) -> Any | None:
        if self.optimizer_key is None:
            return None
        entry = obj[self.optimizer_key]
        return entry[self.optimizer_index] if self.optimizer_index is not None else entry


def detect_layout(obj: Any, source: str) -> Layout:
    """Classify what torch.load/safetensors/torch.jit.load returned for the file `source`."""
    if isinstance(obj, torch.jit.ScriptModule):
        return Layout(TORCHSCRIPT)
    if isinstance(obj, torch.nn.Module):
        return Layout(PICKLED_MODULE)
    if not isinstance(obj, Mapping):
        raise UnknownFormatError(
            f"{source}: torch.load returned a {type(obj).__name__}, not a state dict, a"
            " checkpoint dict or a module; plateau-cli cannot find model weights in it"
        )
    if is_state_dict(obj, strict=True):
        return Layout(STATE_DICT)
    if "state_dict" in obj and any(marker in obj for marker in _LIGHTNING_MARKERS):
        return _lightning(obj)
    return _checkpoint_dict(obj, source)


def is_state_dict(value: Any, *, strict: bool = False) -> bool:
    """A mapping of names to tensors (all of them when `strict`, most of them otherwise)."""
    if not isinstance(value, Mapping) or not value or is_optimizer_state(value):
        return False
    if not all(isinstance(key, str) for key in value):
        return False
    tensors = sum(isinstance(v, torch.Tensor) for v in value.values())
    if strict:
        return tensors == len(value)
    return tensors > 0 and tensors * 2 >= len(value)


def is_optimizer_state(value: Any) -> bool:
    if isinstance(value, torch.optim.Optimizer):
        return True
    return (
        isinstance(value, Mapping)
        and "state" in value
        and isinstance(value.get("param_groups"), list)
    )


def as_int(value: Any) -> int | None:
    """An epoch or step count stored as int, numpy integer or 0-d integer tensor."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, torch.Tensor):
        if value.numel() == 1 and not value.is_floating_point() and value.dtype != torch.bool:
            return int(value.item())
        return None
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        return None
    return int(value) if isinstance(value, np.integer) else None


def _lightning(obj: Mapping[str, Any]) -> Layout:
    states = obj.get("optimizer_states")
    count = len(states) if isinstance(states, list) else 0
    has_optimizer = count > 0 and is_optimizer_state(states[0])
    return Layout(
        LIGHTNING,
        model_key="state_dict",
        optimizer_key="optimizer_states" if has_optimizer else None,
        optimizer_index=0 if has_optimizer else None,
        optimizer_count=count,
        epoch_keys=tuple(k for k in ("epoch",) if as_int(obj.get(k)) is not None),
        step_keys=tuple(k for k in ("global_step",) if as_int(obj.get(k)) is not None),
        scheduler_keys=tuple(k for k in ("lr_schedulers",) if obj.get(k)),
        keys=_key_names(obj),
    )


def _checkpoint_dict(obj: Mapping[str, Any], source: str) -> Layout:
    holds_weights = {
        key
        for key, value in obj.items()
        if isinstance(value, torch.nn.Module) or is_state_dict(value)
    }
    model_key = next((k for k in MODEL_KEYS if k in holds_weights), None)
    if model_key is None and holds_weights:
        model_key = max(sorted(holds_weights, key=str), key=lambda k: _size(obj[k]))
    if model_key is None:
        raise UnknownFormatError(
            f"{source}: a dict with entries {', '.join(_key_names(obj)[:12])}, none of which holds"
            " model weights (a mapping of parameter names to tensors); expected e.g."
            " 'model_state_dict' or 'state_dict'"
        )
    optimizer_key, index, count = _find_optimizer(obj)
    return Layout(
        CHECKPOINT_DICT,
        model_key=model_key,
        optimizer_key=optimizer_key,
        optimizer_index=index,
        optimizer_count=count,
        epoch_keys=tuple(k for k in EPOCH_KEYS if as_int(obj.get(k)) is not None),
        step_keys=tuple(k for k in STEP_KEYS if as_int(obj.get(k)) is not None),
        scheduler_keys=tuple(k for k in SCHEDULER_KEYS if obj.get(k) is not None),
        keys=_key_names(obj),
        other_state_dicts=tuple(sorted(str(k) for k in holds_weights - {model_key})),
    )


def _find_optimizer(obj: Mapping[str, Any]) -> tuple[str | None, int | None, int]:
    names = [k for k in OPTIMIZER_KEYS if k in obj] + [k for k in obj if k not in OPTIMIZER_KEYS]
    for key in names:
        value = obj[key]
        if is_optimizer_state(value):
            return key, None, 1
        if isinstance(value, list | tuple) and value and is_optimizer_state(value[0]):
            return key, 0, len(value)
    return None, None, 0


def _size(value: Any) -> int:
    return len(value) if isinstance(value, Mapping) else sum(1 for _ in value.parameters())


def _key_names(obj: Mapping[Any, Any]) -> tuple[str, ...]:
    return tuple(str(key) for key in obj)
