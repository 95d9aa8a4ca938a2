"""What a module expects and produces, read from its layers without running it.

A torch module has no declared input shape. Its first layer usually tells (a Linear's
`in_features`, a Conv's `in_channels`), and its last Linear tells the number of outputs. The
answers are hints for checking data early; the forward pass on two real samples in
`check_data` is the judge. TorchScript modules are read the same way, by `original_name` and
weight shapes, since they have no Python classes or hooks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

_CONV_DIMS = {"Conv1d": 1, "Conv2d": 2, "Conv3d": 3}
_NORMS_FIRST = {"BatchNorm1d", "LayerNorm"}
_SHAPE_CHANGERS = {"Flatten", "Unflatten"}
_ACTIVATIONS = {"Softmax": "softmax", "LogSoftmax": "log_softmax", "Sigmoid": "sigmoid"}
_EMBEDDINGS = {"Embedding", "EmbeddingBag"}
#: Layers whose weights are not called `weight`, or that take the input before any Linear
#: does: with one of them the first Linear is no guide to the model's input.
_SEQUENCE_LAYERS = {
    "LSTM",
    "GRU",
    "RNN",
    "MultiheadAttention",
    "TransformerEncoder",
    "TransformerDecoder",
    "Transformer",
}
BATCH_NORMS = frozenset({"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"})


@dataclass(frozen=True)
class Structure:
    input_shape: tuple[int | None, ...] | None
    #: Conv nets take NCHW; everything else is indifferent (True, the readers' own layout).
    channels_last: bool
    output_units: int | None
    #: "softmax", "log_softmax", "sigmoid" when the last layer is one, else "linear".
    output_activation: str
    #: The first layer is an Embedding: inputs are integer token ids.
    integer_inputs: bool
    has_batch_norm: bool
    #: An Embedding anywhere: integer inputs are token ids, kept as integers.
    has_embedding: bool = False


def kind(module: torch.nn.Module) -> str:
    """The layer's class name, also for TorchScript modules (`original_name`)."""
    if isinstance(module, torch.jit.ScriptModule):
        return str(getattr(module, "original_name", type(module).__name__))
    return type(module).__name__


def read_structure(model: torch.nn.Module) -> Structure:
    modules = [m for _, m in model.named_modules()]
    owners = [m for m in modules if _weight(m) is not None]
    leaves = [m for m in modules if not list(m.children())]
    return Structure(
        input_shape=_input_shape(modules, owners),
        channels_last=not any(kind(m) in _CONV_DIMS for m in owners),
        output_units=_output_units(owners),
        output_activation=_ACTIVATIONS.get(kind(leaves[-1]), "linear") if leaves else "linear",
        integer_inputs=bool(owners) and kind(owners[0]) == "Embedding",
        has_batch_norm=any(kind(m) in BATCH_NORMS for m in modules),
        has_embedding=any(kind(m) in _EMBEDDINGS for m in modules),
    )


def _weight(module: torch.nn.Module) -> torch.Tensor | None:
    weight = dict(module.named_parameters(recurse=False)).get("weight")
    return weight if isinstance(weight, torch.Tensor) else None


def _input_shape(
    modules: list[torch.nn.Module], owners: list[torch.nn.Module]
) -> tuple[int | None, ...] | None:
    if not owners or any(kind(m) in _SEQUENCE_LAYERS for m in modules):
        return None
    first = owners[0]
    before = modules[: next(i for i, m in enumerate(modules) if m is first)]
    if any(kind(m) in _SHAPE_CHANGERS for m in before):
        return None
    name, weight = kind(first), _weight(first)
    if weight is None:
        return None
    if name == "Linear":
        return (int(weight.shape[1]),)
    if name in _CONV_DIMS:
        channels = int(weight.shape[1]) * int(getattr(first, "groups", 1))
        return (channels, *([None] * _CONV_DIMS[name]))
    if name == "Embedding":
        return (None,)
    if name in _NORMS_FIRST:
        return tuple(int(d) for d in weight.shape)
    return None


def _output_units(owners: list[torch.nn.Module]) -> int | None:
    if not owners or kind(owners[-1]) != "Linear":
        return None
    weight = _weight(owners[-1])
    return int(weight.shape[0]) if weight is not None else None
