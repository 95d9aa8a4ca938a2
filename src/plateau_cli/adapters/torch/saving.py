"""Write the checkpoint back in the input's own layout, so the user's script loads it as before.

Same entries, same state-dict names (prefixes included), `epoch` and the step counters advanced
by what this run did, the model and optimizer state replaced, everything else (a scheduler,
`best_acc`, an EMA copy, Lightning's callbacks) written back unchanged. Tensors are written on
the CPU, the most portable choice: the user's `torch.load` then needs no `map_location`.

Layouts without a place for the optimizer (a bare state dict, safetensors, TorchScript, a
pickled module) stay that way: adding a file their readers do not expect would not help them,
and the next resume starts a fresh optimizer, as this one did. `describe` says so.
A checkpoint dict that held no optimizer state gains an `optimizer_state_dict` entry: one more
key does not disturb a script that reads the keys it knows, and the next resume continues.
"""

from __future__ import annotations

import contextlib
import copy
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from plateau_cli.adapters.torch import layouts
from plateau_cli.adapters.torch.layouts import Layout, as_int
from plateau_cli.adapters.torch.loading import quiet_jit_deprecation
from plateau_cli.adapters.torch.schedulers import factors, rescale, rescale_groups
from plateau_cli.atomic import atomic_path

ADDED_OPTIMIZER_KEY = "optimizer_state_dict"
_WEIGHTS_ONLY_LAYOUTS = frozenset(
    {layouts.STATE_DICT, layouts.SAFETENSORS, layouts.TORCHSCRIPT, layouts.PICKLED_MODULE}
)


@dataclass
class SaveTemplate:
    """The loaded checkpoint minus the weights and optimizer state that training replaces."""

    layout: Layout
    #: Top-level entries in their order (model and optimizer entries set to None).
    top: dict[str, Any] | None
    prefix: str = ""
    #: State-dict entries outside the module (kept unchanged), and the names' original order.
    extras: dict[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = ()
    metadata_attr: Any = None
    #: safetensors header metadata.
    file_metadata: dict[str, str] = field(default_factory=dict)
    #: The other optimizers of a list of optimizer states, kept as they were.
    optimizer_list: list[Any] | None = None
    #: A trusted pickle held objects, not state dicts, under these entries.
    model_was_object: bool = False
    optimizer_was_object: bool = False
    #: Each param group's rate as restored: a scheduler saved beside the optimizer is rescaled
    #: by how far the rates moved from these (None: the optimizer was not restored).
    loaded_rates: list[float] | None = None
    #: What became of the scheduler state at the last save, for the report.
    scheduler_notes: list[str] = field(default_factory=list)

    @property
    def persists_optimizer(self) -> bool:
        return self.layout.format not in _WEIGHTS_ONLY_LAYOUTS

    @property
    def optimizer_key(self) -> str:
        return self.layout.optimizer_key or ADDED_OPTIMIZER_KEY


def make_template(
    obj: Any, layout: Layout, prefix: str, file_metadata: Mapping[str, str]
) -> SaveTemplate:
    """Keep what `save` needs from the loaded object, without holding the old weights."""
    template = SaveTemplate(layout, None, prefix, file_metadata=dict(file_metadata))
    if layout.format in {layouts.TORCHSCRIPT, layouts.PICKLED_MODULE}:
        return template
    weights = layout.model_entry(obj)
    if isinstance(weights, Mapping):
        template.key_order = tuple(weights)
        template.extras = {k: v for k, v in weights.items() if not k.startswith(prefix)}
        template.metadata_attr = getattr(weights, "_metadata", None)
    if isinstance(obj, Mapping) and layout.model_key is not None:
        template.model_was_object = isinstance(weights, torch.nn.Module)
        template.top = {k: (None if k == layout.model_key else v) for k, v in obj.items()}
        if layout.optimizer_key is not None:
            entry = obj[layout.optimizer_key]
            if layout.optimizer_index is not None:
                template.optimizer_list = list(entry)
            template.optimizer_was_object = isinstance(
                layout.optimizer_entry(obj), torch.optim.Optimizer
            )
            template.top[layout.optimizer_key] = None
    return template


def save_checkpoint(
    path: Path,
    template: SaveTemplate,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    epochs_done: int,
    steps_done: int,
    factory_args: Mapping[str, Any] | None = None,
) -> None:
    """Write atomically at `path` in the template's layout; `factory_args` (as widen rebuilt
    them) update Lightning's `hyper_parameters`, so `load_from_checkpoint` builds the new width."""
    fmt = template.layout.format
    if fmt == layouts.TORCHSCRIPT:
        with atomic_path(path) as tmp, quiet_jit_deprecation(), _on_cpu(model), _in_eval(model):
            torch.jit.save(model, str(tmp))
        return
    if fmt == layouts.PICKLED_MODULE:
        with atomic_path(path) as tmp, _on_cpu(model), _in_eval(model):
            torch.save(model, tmp)
        return
    weights = _weights(template, model)
    if fmt == layouts.SAFETENSORS:
        _save_safetensors(path, weights, template.file_metadata)
        return
    if template.top is None:
        obj: Any = weights
    else:
        obj = _top_level(template, template.top, weights, model, optimizer, epochs_done, steps_done)
        if fmt == layouts.LIGHTNING and factory_args and "hyper_parameters" in obj:
            obj["hyper_parameters"] = _updated_hparams(obj.get("hyper_parameters"), factory_args)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _weights(template: SaveTemplate, model: torch.nn.Module) -> OrderedDict[str, Any]:
    state = {template.prefix + k: _cpu(v) for k, v in model.state_dict().items()}
    ordered: OrderedDict[str, Any] = OrderedDict()
    for key in template.key_order:  # the input's order first, then anything new (widen)
        if key in state:
            ordered[key] = state.pop(key)
        elif key in template.extras:
            ordered[key] = template.extras[key]
    ordered.update(state)
    metadata = template.metadata_attr
    if metadata is None and not template.prefix:
        metadata = getattr(model.state_dict(), "_metadata", None)
    if metadata is not None:
        ordered._metadata = copy.deepcopy(metadata)  # type: ignore[attr-defined]
    return ordered


def _top_level(
    template: SaveTemplate,
    top: dict[str, Any],
    weights: OrderedDict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    epochs_done: int,
    steps_done: int,
) -> dict[str, Any]:
    layout = template.layout
    out = dict(top)
    out[str(layout.model_key)] = model if template.model_was_object else weights
    if layout.optimizer_key is not None and template.optimizer_was_object:
        state: Any = optimizer
    else:
        state = _cpu_tree(optimizer.state_dict())
    if template.optimizer_list is not None:
        states = list(template.optimizer_list)
        states[layout.optimizer_index or 0] = state
        out[template.optimizer_key] = states
    elif layout.format == layouts.LIGHTNING:
        out["optimizer_states"] = [state]
    else:
        out[template.optimizer_key] = state
    _agree_schedulers(template, out, state, optimizer)
    for key in layout.epoch_keys:
        out[key] = _advance(out[key], epochs_done)
    for key in layout.step_keys:
        out[key] = _advance(out[key], steps_done)
    if layout.format == layouts.LIGHTNING:
        out["loops"] = _advance_lightning_loops(out.get("loops"), epochs_done, steps_done)
    return out


def _agree_schedulers(
    template: SaveTemplate, out: dict[str, Any], state: Any, optimizer: torch.optim.Optimizer
) -> None:
    """Scheduler entries (and the groups' initial_lr/max_lr) scaled like the rates were."""
    rates = [float(group["lr"]) for group in optimizer.param_groups]
    scale = factors(template.loaded_rates or [], rates) if template.loaded_rates else None
    template.scheduler_notes = []
    if scale is None:
        return
    if isinstance(state, dict):
        rescale_groups(state, scale)
    for key in template.layout.scheduler_keys:
        if key not in out:
            continue
        result = rescale(out[key], scale, rates)
        if result.state is None:
            del out[key]
        else:
            out[key] = result.state
        if result.note:
            template.scheduler_notes.append(f"{key}: {result.note}")


def _updated_hparams(hparams: Any, factory_args: Mapping[str, Any]) -> Any:
    """The recorded constructor arguments with the ones widen changed (only those recorded)."""
    if not isinstance(hparams, Mapping):
        return hparams
    updated = copy.copy(hparams)  # keeps Lightning's AttributeDict type
    for key, value in factory_args.items():
        if key in updated and updated[key] != value:
            updated[key] = value
    return updated


def _advance(value: Any, by: int) -> Any:
    """`value + by`, keeping its type (int, numpy integer or 0-d tensor)."""
    current = as_int(value)
    if current is None:
        return value
    if isinstance(value, torch.Tensor):
        return torch.tensor(current + by, dtype=value.dtype)
    if isinstance(value, int):
        return current + by
    return type(value)(current + by)


def _advance_lightning_loops(loops: Any, epochs_done: int, steps_done: int) -> Any:
    """Best effort: Lightning restores its epoch counter from `loops`, not from `epoch`."""
    if not isinstance(loops, Mapping):
        return loops
    loops = copy.deepcopy(dict(loops))
    fit = loops.get("fit_loop")
    if isinstance(fit, dict):
        progress = fit.get("epoch_progress")
        if isinstance(progress, dict):
            for part in ("total", "current"):
                counters = progress.get(part)
                if isinstance(counters, dict):
                    for name, count in counters.items():
                        if isinstance(count, int):
                            counters[name] = count + epochs_done
        inner = fit.get("epoch_loop.state_dict")
        if isinstance(inner, dict) and isinstance(inner.get("_batches_that_stepped"), int):
            inner["_batches_that_stepped"] += steps_done
        # Lightning's global_step is the optimizer's completed steps: they advance together.
        _advance_totals(fit.get("epoch_loop.batch_progress"), steps_done)
        optim = fit.get("epoch_loop.automatic_optimization.optim_progress")
        if isinstance(optim, dict) and isinstance(optim.get("optimizer"), dict):
            for part in ("step", "zero_grad"):
                _advance_totals(optim["optimizer"].get(part), steps_done)
    return loops


def _advance_totals(progress: Any, by: int) -> None:
    """A Lightning progress record's `total` counters (ready, started, completed...) + by."""
    if isinstance(progress, dict) and isinstance(progress.get("total"), dict):
        totals = progress["total"]
        for name, count in totals.items():
            if isinstance(count, int):
                totals[name] = count + by


def _save_safetensors(path: Path, weights: Mapping[str, Any], metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    seen: set[int] = set()
    tensors: dict[str, torch.Tensor] = {}
    for key, value in weights.items():
        if not isinstance(value, torch.Tensor):
            continue
        tensor = value.contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        if pointer in seen:  # tied weights: safetensors refuses shared storage
            tensor = tensor.clone()
        seen.add(tensor.untyped_storage().data_ptr())
        tensors[key] = tensor
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata or None)


@contextlib.contextmanager
def _on_cpu(model: torch.nn.Module) -> Iterator[None]:
    """Write a whole module from the CPU, then put it back: `Module.to` keeps the Parameter
    objects, so the optimizer still holds the same ones."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    if device.type == "cpu":
        yield
        return
    model.to("cpu")
    try:
        yield
    finally:
        model.to(device)


@contextlib.contextmanager
def _in_eval(model: torch.nn.Module) -> Iterator[None]:
    """A whole module is written with its train/eval flags: always in eval mode, as a model is
    handed over, whether or not an evaluation came last (a run cut mid-epoch is in train mode
    when its best weights are put back), then each module's own flag again."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def _cpu(value: Any) -> Any:
    return value.detach().cpu() if isinstance(value, torch.Tensor) else value


def _cpu_tree(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _cpu_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cpu_tree(v) for v in value]
    return value
