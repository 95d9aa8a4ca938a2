"""`TorchAdapter`: open any common torch checkpoint and hand back a ready `TorchHandle`.

The order matters and is the same for every layout: read the file onto the CPU (safely),
classify its layout, build the module (factory or the file's own), fit the weights, move the
module to the device, and only then rebuild the optimizer, so its restored state lands on the
parameters' device.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from plateau_cli.adapters import sniff
from plateau_cli.adapters.base import Adapter, LoadOptions, OptimizerState
from plateau_cli.adapters.torch import ddp, layouts
from plateau_cli.adapters.torch.device import resolve_device
from plateau_cli.adapters.torch.factory import build_module, fit_weights
from plateau_cli.adapters.torch.handle import TorchHandle
from plateau_cli.adapters.torch.layouts import Layout, detect_layout
from plateau_cli.adapters.torch.loading import (
    LoadedFile,
    load_safetensors,
    load_torch_file,
    load_torchscript,
)
from plateau_cli.adapters.torch.losses import canonical_loss
from plateau_cli.adapters.torch.optimizer import build_optimizer, optimizer_class
from plateau_cli.adapters.torch.saving import make_template
from plateau_cli.errors import UnknownFormatError
from plateau_cli.run.batch_size import from_checkpoint

_WHAT = {
    layouts.STATE_DICT: "a bare state dict",
    layouts.SAFETENSORS: "a safetensors file",
    layouts.LIGHTNING: "a Lightning checkpoint",
    layouts.CHECKPOINT_DICT: "a checkpoint dict",
}


class TorchAdapter(Adapter):
    name = "torch"

    def load(self, path: Path, fmt: str, options: LoadOptions) -> TorchHandle:
        device, context = ddp.join(resolve_device(options.device))  # torchrun: a process group
        handle = self._load(path, fmt, options, device)
        handle.use_ddp(context)
        if options.sync_batchnorm:
            handle.use_sync_batchnorm()
        return handle

    def _load(
        self, path: Path, fmt: str, options: LoadOptions, device: torch.device
    ) -> TorchHandle:
        # Option errors first: they cost milliseconds, reading the file can cost minutes.
        if options.loss:
            canonical_loss(options.loss)
        if options.optimizer:
            optimizer_class(options.optimizer)
        if fmt == sniff.HF_DIRECTORY:
            from plateau_cli.adapters.torch.hf import load_directory

            return load_directory(path, options, device)
        loaded = _read(path, fmt, options)
        layout = (
            Layout(layouts.SAFETENSORS)
            if fmt == sniff.SAFETENSORS
            else detect_layout(loaded.obj, str(path))
        )
        notes: list[str] = []
        model, prefix = _module(path, loaded.obj, layout, options, notes)
        template = make_template(loaded.obj, layout, prefix or "", loaded.metadata)
        saved_optimizer = layout.optimizer_entry(loaded.obj)
        source_info = _scalars(loaded.obj) if layout.model_key is not None else {}
        recorded = from_checkpoint(loaded.obj) if isinstance(loaded.obj, Mapping) else None
        trusted = loaded.trusted
        del loaded  # the old weights are in the module now; do not hold a second copy
        model.to(device)
        setup = build_optimizer(model, saved_optimizer, options, device)
        if layout.optimizer_count > 1:
            notes.append(
                f"the file holds {layout.optimizer_count} optimizers; the first is resumed and"
                " the others are written back unchanged"
            )
        if setup.state is OptimizerState.RESTORED:
            template.loaded_rates = [float(g["lr"]) for g in setup.optimizer.param_groups]
        if layout.scheduler_keys:
            notes.append(
                f"scheduler state ({', '.join(layout.scheduler_keys)}) is kept; when a strategy"
                " changes the rate it is rescaled to agree (base rates, last rates, plateau"
                " counters), or dropped when its kind is unknown"
            )
        handle = TorchHandle(
            path,
            layout.format,
            model=model,
            device=device,
            layout=layout,
            template=template,
            **setup.handle_arguments(options, factory=prefix is not None),
            trusted_pickle=trusted,
            source_info=source_info,
            notes=(*notes, *setup.notes),
        )
        handle.recorded_batch_size = recorded
        return handle

    @staticmethod
    def seed(seed: int) -> None:
        """Seed every generator a torch run draws from; CPU kernels are deterministic already.

        cuDNN is told to pick deterministic algorithms (cheap); `use_deterministic_algorithms`
        is left alone, since on CUDA it makes some ordinary ops raise unless an environment
        variable was set before the process started.
        """
        random.seed(seed)
        np.random.seed(seed % (2**32))
        torch.manual_seed(seed)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def _read(path: Path, fmt: str, options: LoadOptions) -> LoadedFile:
    if fmt == sniff.TORCHSCRIPT:
        return load_torchscript(path, trust_pickle=options.trust_pickle)
    if fmt == sniff.SAFETENSORS:
        return load_safetensors(path)
    if fmt in {sniff.TORCH_ZIP, sniff.TORCH_LEGACY}:
        return load_torch_file(path, trust_pickle=options.trust_pickle)
    raise UnknownFormatError(f"{path}: format {fmt!r} is not a torch checkpoint format")


def _module(
    path: Path, obj: Any, layout: Layout, options: LoadOptions, notes: list[str]
) -> tuple[torch.nn.Module, str | None]:
    """The module to train, and the state-dict prefix (None: the file carried the module)."""
    if layout.format in {layouts.TORCHSCRIPT, layouts.PICKLED_MODULE}:
        carried = obj
    else:
        entry = layout.model_entry(obj)
        carried = entry if isinstance(entry, torch.nn.Module) else None
    if carried is not None:
        if options.model_factory:
            notes.append(
                f"--model-factory ignored: the {layout.format} file carries its own module"
            )
        return carried, None
    what = _WHAT.get(layout.format, layout.format)
    if layout.model_key and layout.format == layouts.CHECKPOINT_DICT:
        what = f"{what} (weights in {layout.model_key!r})"
    model = build_module(options, path, what)
    fit = fit_weights(model, entry, source=path, factory=options.model_factory)
    return model, fit.prefix


def _scalars(obj: Any) -> dict[str, Any]:
    """Top-level numbers and strings (epoch, global_step, best_acc...), for `inspect`."""
    if not isinstance(obj, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, np.generic | torch.Tensor):
            if np.size(value) == 1:
                out[str(key)] = value.item()
        elif isinstance(value, bool | int | float | str):
            out[str(key)] = value
    return out
