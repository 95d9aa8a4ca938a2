"""normalize for PyTorch: a forward pre-hook standardises the inputs, the first Linear/Conv
holds the folded weights while training, and the checkpoint gets them unfolded to the raw
scale (the user's module, without the hook, then computes the same function)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from plateau_cli.adapters.torch.handle import TorchHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.strategies.base import StrategyContext
from plateau_cli.strategies.normalize import common
from plateau_cli.strategies.normalize.fold import fold, statistics, unfold
from plateau_cli.strategies.normalize.options import NormalizeOptions

_FIRST = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)


def apply(
    handle: TorchHandle, data: DataBundle, context: StrategyContext, options: NormalizeOptions
) -> dict[str, Any]:
    from plateau_cli.adapters.torch import batches

    model = handle.model
    name, layer = _first_layer(model)
    if layer.bias is None:
        raise StrategyNotApplicableError(
            f"{name} has no bias to take the mean's shift: the fold would add a parameter"
            " your module does not have"
        )
    prepared = handle.prepare(data, context.batch_size, context.seed)
    x = torch.cat([xb for xb, _ in batches.in_order(prepared.train)]).detach().cpu().double()
    x = x.numpy()
    conv = not isinstance(layer, torch.nn.Linear)
    axes = (0, *range(2, x.ndim)) if conv else (0,)
    mean, std = statistics(x, axes)
    # A Linear after a Flatten sees every element: per-element statistics, flattened.
    kernel_mean = mean.reshape(-1) if not conv else mean
    kernel_std = std.reshape(-1) if not conv else std
    if not conv and kernel_mean.size != layer.weight.shape[1]:
        raise StrategyNotApplicableError(
            f"{name} takes {layer.weight.shape[1]} inputs but the data has {kernel_mean.size}"
            " features: it is not the layer that sees the raw inputs"
        )
    val = [xb for xb, _ in prepared.val]
    before = _outputs(model, val)
    raw = (layer.weight.detach().cpu().numpy(), _bias(layer))
    w, b = fold(raw[0], raw[1], kernel_mean, kernel_std)
    stats = _stat_tensors(mean, std, conv, x.ndim, layer.weight)
    _set(layer, w, b)
    standardise = _standardise(*stats)
    hook = model.register_forward_pre_hook(standardise)
    after = _outputs(model, val)
    change, spread = common.max_change(before, after)
    try:
        common.check_kept(change, spread, options.tolerance, name)
    except StrategyNotApplicableError:
        hook.remove()
        _set(layer, raw[0], raw[1])
        raise
    for param in layer.parameters():
        handle.optimizer.state.pop(param, None)
    _unfold_when_saving(handle, layer, kernel_mean, kernel_std, [hook], standardise)
    return common.summary(name, "a forward pre-hook", mean, std, change)


def _first_layer(model: torch.nn.Module) -> tuple[str, torch.nn.Module]:
    for name, module in model.named_modules():
        if isinstance(module, _FIRST):
            return name, module
    raise StrategyNotApplicableError("normalize found no Linear or Conv layer to fold into")


def _bias(layer: torch.nn.Module) -> np.ndarray | None:
    return None if layer.bias is None else layer.bias.detach().cpu().numpy()


def _set(layer: torch.nn.Module, w: np.ndarray, b: np.ndarray | None) -> None:
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        if b is not None:
            layer.bias.copy_(torch.from_numpy(b))


def _stat_tensors(
    mean: np.ndarray, std: np.ndarray, conv: bool, ndim: int, like: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    shape = (1, -1) + (1,) * (ndim - 2) if conv else (1, *mean.shape)
    return (
        torch.as_tensor(mean.reshape(shape), dtype=like.dtype, device=like.device),
        torch.as_tensor(std.reshape(shape), dtype=like.dtype, device=like.device),
    )


def _standardise(mean: torch.Tensor, std: torch.Tensor) -> Any:
    def hook(module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        x = args[0]
        return ((x - mean.to(x.device, x.dtype)) / std.to(x.device, x.dtype), *args[1:])

    return hook


def _unfold_when_saving(
    handle: TorchHandle,
    layer: torch.nn.Module,
    mean: np.ndarray,
    std: np.ndarray,
    hooks: list[Any],
    standardise: Any,
) -> None:
    """The checkpoint holds raw-scale weights and no hook (a pickled module too); training
    goes on with the folded ones and the hook."""
    save = handle.save

    def save_raw(path: Path, *, epochs_done: int) -> None:
        # Copies: a numpy view of a CPU parameter would follow the unfold below, and the
        # restore after the save would then put the raw-scale bias back into training.
        bias = _bias(layer)
        assert bias is not None  # fold always leaves a bias
        folded = (layer.weight.detach().cpu().numpy().copy(), bias.copy())
        _set(layer, *unfold(folded[0], folded[1], mean, std))
        hooks.pop().remove()
        try:
            save(path, epochs_done=epochs_done)
        finally:
            _set(layer, *folded)
            hooks.append(handle.model.register_forward_pre_hook(standardise))

    handle.save = save_raw  # type: ignore[method-assign]


def _outputs(model: torch.nn.Module, inputs: list[torch.Tensor]) -> list[np.ndarray]:
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            return [model(x).detach().cpu().double().numpy() for x in inputs]
    finally:
        for m, training in modes.items():
            m.training = training
