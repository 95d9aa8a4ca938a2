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
from plateau_cli.strategies.normalize import balance, common
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
    balanced = _Chain(model, layer, prepared) if options.balance else None
    if balanced is not None and not balanced.links:
        balanced = None
    after = _outputs(model, val)
    change, spread = common.max_change(before, after)
    if balanced is not None and change > options.tolerance * max(spread, 1.0):
        balanced.undo()  # the next layer is not fed by these units alone: fold only
        balanced = None
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
    if balanced is not None:
        for param in balanced.parameters():
            handle.optimizer.state.pop(param, None)
    # The raw-scale unfold on save starts from the (balanced) first layer's weights.
    _unfold_when_saving(handle, layer, kernel_mean, kernel_std, [hook], standardise)
    done = common.summary(name, "a forward pre-hook", mean, std, change)
    return {**done, **(balanced.summary() if balanced is not None else {})}


_BETWEEN = (
    torch.nn.ReLU, torch.nn.Dropout, torch.nn.Dropout1d, torch.nn.Dropout2d, torch.nn.Dropout3d,
    torch.nn.MaxPool1d, torch.nn.MaxPool2d, torch.nn.MaxPool3d, torch.nn.Flatten,
    torch.nn.Identity,
)  # fmt: skip


class _Balanced:
    """Units of the first layer rescaled, the inverse in the next layer; undoable."""

    def __init__(self, first: Any, next_name: str, next_layer: Any, scales: np.ndarray) -> None:
        self.first, self.next_name, self.next_layer, self.scales = (
            first,
            next_name,
            next_layer,
            scales,
        )
        self._saved = [p.detach().clone() for p in (*first.parameters(), *next_layer.parameters())]

    def undo(self) -> None:
        with torch.no_grad():
            for p, v in zip((*self.first.parameters(), *self.next_layer.parameters()),
                            self._saved, strict=True):  # fmt: skip
                p.copy_(v)

    def summary(self) -> dict[str, Any]:
        return common.balance_summary(self.next_name, self.scales)


class _Chain:
    """Every ReLU layer from the first on rescaled in turn (each into the next), so no hidden
    activation stays at the raw scale; undoable as a whole."""

    def __init__(self, model: torch.nn.Module, first: torch.nn.Module, prepared: Any) -> None:
        self.links: list[_Balanced] = []
        current = first
        while (link := _balance(model, current, prepared)) is not None:
            self.links.append(link)
            current = link.next_layer

    def undo(self) -> None:
        for link in reversed(self.links):
            link.undo()

    def parameters(self) -> list[Any]:
        return [p for link in self.links for p in link.next_layer.parameters()]

    def summary(self) -> dict[str, Any]:
        return common.chain_summary([link.summary() for link in self.links])


def _balance(model: torch.nn.Module, layer: torch.nn.Module, prepared: Any) -> _Balanced | None:
    """Rescale `layer`'s ReLU units to unit spread (balance.py), when a Linear/Conv is fed by
    them through ReLU, dropout, max-pooling or flattening only (module order in a Sequential)."""
    from plateau_cli.adapters.torch import batches

    leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
    at = next((i for i, (_, m) in enumerate(leaves) if m is layer), None)
    if at is None:
        return None
    between: list[torch.nn.Module] = []
    following = iter(leaves[at + 1 :])
    for next_name, module in following:  # noqa: B007 - the loop finds them
        if isinstance(module, _FIRST):
            break
        if not isinstance(module, _BETWEEN):
            return None
        between.append(module)
    else:
        return None
    if not any(isinstance(m, torch.nn.ReLU) for m in between):
        return None
    seen: list[np.ndarray] = []
    grab = module.register_forward_pre_hook(
        lambda _m, args: seen.append(args[0].detach().cpu().double().numpy())
    )
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            for xb, _ in batches.in_order(prepared.train):
                model(xb)
    finally:
        grab.remove()
        for m, training in modes.items():
            m.training = training
    inputs = np.concatenate(seen)
    units = int(layer.weight.shape[0])
    if inputs.ndim == 2 and inputs.shape[1] != units:  # a flattened conv map, unit-major
        inputs = inputs.reshape(len(inputs), units, -1)
    if inputs.shape[1] != units:
        return None
    scales = balance.unit_scales(inputs)
    done = _Balanced(layer, next_name, module, scales)
    w, b = balance.scale_first(layer.weight.detach().cpu().numpy(), _bias(layer), scales)
    _set(layer, w, b)
    with torch.no_grad():
        nxt = balance.scale_next(module.weight.detach().cpu().numpy(), scales)
        module.weight.copy_(torch.from_numpy(nxt))
    return done


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
