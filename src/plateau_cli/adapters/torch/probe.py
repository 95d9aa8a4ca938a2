"""A forward pass on two training samples before any training: the judge of "does it fit".

Torch modules declare no input shape, so the shape checks done from the layers are hints; the
two-sample pass is definitive and cheap. It runs in eval mode under `no_grad` (no BatchNorm
statistics move, no Dropout randomness is drawn), records each layer's output shape for
`inspect` on the way, and turns torch's shape errors into one line that quotes the data's shape
and the model's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from plateau_cli.adapters.torch.batches import (
    InputLayout,
    TargetFit,
    inputs_tensor,
    targets_tensor,
)
from plateau_cli.adapters.torch.losses import LossChoice
from plateau_cli.adapters.torch.outputs import describe_inputs, split_batch, to_device
from plateau_cli.data.base import ArraySplit, DataBundle
from plateau_cli.errors import DataMismatchError

if TYPE_CHECKING:
    from plateau_cli.adapters.torch.handle import TorchHandle

_SAMPLES = 2


@dataclass(frozen=True)
class ProbeResult:
    output_tail: tuple[int, ...]
    layer_shapes: dict[str, tuple[int, ...]]
    #: Per-sample shape of the inputs the model ran on (None: several inputs or a dict).
    input_shape: tuple[int, ...] | None = None
    #: The model returned its own loss for the batch (given labels): it is trained on that.
    model_loss: bool = False


def sample_labels(data: DataBundle) -> np.ndarray:
    """The training labels as numpy (a first batch for a DataLoader), for choosing the loss."""
    if data.is_arrays:
        return np.asarray(data.train.y)
    _, labels = first_batch(data.train)
    return _numpy(labels)


def forward_two(handle: TorchHandle, data: DataBundle, layout: InputLayout) -> ProbeResult:
    """Arrays: the first two samples. A DataLoader: its whole first batch, as training sees it
    (padded sequences with their lengths, dict batches), so the fit is judged on real input."""
    if data.is_arrays:
        return forward_arrays(handle, data.train.x[:_SAMPLES], data.train.y[:_SAMPLES], layout)
    inputs, labels = first_batch(data.train)
    return forward_arrays(handle, inputs, labels, layout)


def forward_arrays(handle: TorchHandle, x: Any, y: Any, layout: InputLayout) -> ProbeResult:
    """Run the model on `x` (and the loss on `y` when given and the loss is known)."""
    model = handle.model
    fed = inputs_tensor(x, layout) if isinstance(x, np.ndarray) else x
    fed = to_device(fed, handle.device)
    call = handle.model_call()
    shapes: dict[str, tuple[int, ...]] = {}
    modes = {module: module.training for module in model.modules()}
    hooks = _record_shapes(model, shapes)
    model.eval()
    try:
        with torch.no_grad():
            raw = call(model, fed)
            output = call.predictions(raw)
            own = call.own_loss(raw) is not None
            if y is not None and handle.loss is not None and not own:
                tail = tuple(int(d) for d in output.shape[1:])
                target_layout = InputLayout(
                    layout.dtype, layout.to_channels_first, layout.integer_inputs, tail
                )
                target = _targets(y, handle.loss, handle.device, target_layout)
                _check_loss(handle.loss, handle.device, output, target, y)
    except (RuntimeError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise DataMismatchError(_shape_message(x, fed, handle, exc)) from exc
    finally:
        for hook in hooks:
            hook.remove()
        for module, training in modes.items():
            module.training = training
    seen = tuple(int(d) for d in fed.shape[1:]) if isinstance(fed, torch.Tensor) else None
    return ProbeResult(tuple(int(d) for d in output.shape[1:]), shapes, seen, own)


def _targets(y: Any, loss: LossChoice, device: torch.device, layout: InputLayout) -> torch.Tensor:
    if isinstance(y, np.ndarray):
        return targets_tensor(y, loss, layout).to(device)
    return TargetFit(loss, layout.dtype, layout.output_tail)(y.to(device))


def _check_loss(
    loss: LossChoice, device: torch.device, output: torch.Tensor, target: torch.Tensor, y: Any
) -> None:
    try:
        loss.build().to(device)(output, target)
    except (RuntimeError, ValueError, IndexError) as exc:
        raise DataMismatchError(
            f"the labels do not fit the model's output for the {loss.name} loss: labels"
            f" {_describe(y)} vs output of shape {tuple(output.shape)}: {_first_line(exc)}"
            " (check the labels, or pass --loss)"
        ) from exc


def _record_shapes(model: torch.nn.Module, shapes: dict[str, tuple[int, ...]]) -> list[Any]:
    if isinstance(model, torch.jit.ScriptModule):
        return []  # TorchScript modules take no Python hooks

    def recorder(name: str) -> Any:
        def hook(module: torch.nn.Module, inputs: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                shapes[name] = tuple(int(d) for d in output.shape[1:])

        return hook

    return [
        module.register_forward_hook(recorder(name))
        for name, module in model.named_modules()
        if any(True for _ in module.parameters(recurse=False))
    ]


def _shape_message(x: Any, fed: Any, handle: TorchHandle, exc: BaseException) -> str:
    if not isinstance(fed, torch.Tensor):
        return (
            f"the model does not run on one training batch (inputs {describe_inputs(fed)}):"
            f" {_first_line(exc)}"
        )
    given = tuple(int(d) for d in x.shape[1:])
    as_fed = tuple(fed.shape[1:])
    shown = f"{given}" if given == as_fed else f"{given} (fed to the model as {as_fed})"
    expected = handle.structure.input_shape
    wants = f"the model's first layer takes {_shape_text(expected)}" if expected else "the model"
    return (
        f"the training inputs do not fit the model: a batch of {len(fed)} samples of shape"
        f" {shown} ({str(fed.dtype).removeprefix('torch.')}), {wants}: {_first_line(exc)}"
    )


def first_batch_bundle(data: DataBundle) -> DataBundle:
    """A DataLoader's first batches as arrays, split as training splits them, so the label
    checks see the targets (not a (x, lengths, y) batch's lengths); inputs that are not one
    tensor (a dict, x with lengths) stand in as an empty column: their fit is the probe's."""
    splits = []
    for name, source in (("training", data.train), ("validation", data.val)):
        try:
            inputs, labels = split_batch(next(iter(source)), name)
        except StopIteration:
            splits.append(ArraySplit(np.empty((0, 0)), np.empty((0,))))
            continue
        y = _numpy(labels)
        x = _numpy(inputs) if isinstance(inputs, torch.Tensor) else np.zeros((len(y), 0))
        splits.append(ArraySplit(x, y))
    return replace(data, train=splits[0], val=splits[1])


def first_batch(source: Any) -> tuple[Any, Any]:
    """The first batch of a DataLoader as (inputs, targets), split as training splits it."""
    try:
        batch = next(iter(source))
    except StopIteration as exc:
        raise DataMismatchError("the training data yields no batches") from exc
    return split_batch(batch, "training")


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _describe(y: Any) -> str:
    array = _numpy(y)
    return f"of shape {tuple(array.shape)} ({array.dtype}, e.g. {array.ravel()[:2].tolist()})"


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
