"""A torch module's forward as widen's `Op`s, traced by torch.fx.

fx records the forward as a graph of module calls, function calls (`F.relu`, `torch.flatten`)
and method calls (`x.view(x.size(0), -1)`); ShapeProp runs it once on two validation samples to
put shapes on it, which tells a flatten (N, C, H, W) -> (N, C*H*W) from any other reshape. Shape
queries (`x.size(0)`) read a tensor without consuming it, so they do not count as users.
"""

from __future__ import annotations

import functools
import math
import operator
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.strategies.widen.graph import Graph, Kind, Op

if TYPE_CHECKING:
    import torch
    import torch.fx
    from torch import nn

_PER_UNIT_METHODS = {"relu", "relu_", "tanh", "sigmoid", "contiguous", "clone", "float"}
_RESHAPES = {"flatten", "view", "reshape"}
#: Users of a tensor that read its shape, not its values.
_SHAPE_QUERIES = {"size", "dim"}


@dataclass(frozen=True)
class _Vocabulary:
    """What acts on each unit (channel) separately, as torch spells it."""

    modules: tuple[type, ...]
    functions: frozenset[Any]
    flatten: Any


@functools.cache
def _vocabulary() -> _Vocabulary:
    import torch
    from torch import nn
    from torch.nn import functional as F

    modules = (
        nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
        nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus,
        nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout, nn.MaxPool1d,
        nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
        nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
    )  # fmt: skip
    functions = frozenset({
        torch.relu, torch.tanh, torch.sigmoid, F.relu, F.relu6, F.leaky_relu, F.elu, F.gelu,
        F.silu, F.mish, F.tanh, F.sigmoid, F.hardtanh, F.softplus, F.dropout, F.dropout2d,
        F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.adaptive_max_pool2d,
    })  # fmt: skip
    return _Vocabulary(modules, functions, torch.flatten)


def read_graph(model: nn.Module, sample: torch.Tensor) -> Graph:
    """The traced forward as `Op`s, with shapes from one pass on `sample` in eval mode."""
    import torch
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp

    if isinstance(model, torch.jit.ScriptModule):
        raise StrategyNotApplicableError(
            "a TorchScript archive cannot be widened: its code is compiled, so neither its"
            " modules nor its forward can change; resume from a state dict with"
            " --model-factory instead"
        )
    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception as exc:  # fx runs the user's forward: any error means "not traceable"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StrategyNotApplicableError(
            f"cannot follow {type(model).__name__}.forward with torch.fx ({first[:200]}):"
            " widen needs to see which layer consumes which; a forward with data-dependent"
            " control flow cannot be widened safely"
        ) from exc
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            ShapeProp(traced).propagate(sample)
    finally:
        for module, training in modes.items():
            module.training = training
    return Graph(_ops(traced, model))


def _ops(traced: torch.fx.GraphModule, model: nn.Module) -> list[Op]:
    nodes = list(traced.graph.nodes)
    calls = Counter(n.target for n in nodes if n.op == "call_module")
    names: dict[torch.fx.Node, str] = {}
    seen: set[str] = set()
    for node in nodes:  # a module by its own name; a second call of it by the node's name
        first = node.op == "call_module" and node.target not in seen
        names[node] = str(node.target) if first else node.name
        seen.add(str(node.target))
    ops = []
    for node in nodes:
        if node.op == "output":
            continue
        users = [u for u in node.users if not _shape_query(u)]
        module = model.get_submodule(str(node.target)) if node.op == "call_module" else None
        kind, width, block, problem, layer_problem = _classify(node, module)
        ops.append(
            Op(
                name=names[node],
                kind=kind,
                type_name=type(module).__name__ if module is not None else _node_type(node),
                inputs=tuple(names[a] for a in node.all_input_nodes if _is_tensor(a)),
                users=tuple(names[u] for u in users if u.op != "output"),
                width=width,
                calls=calls[node.target] if module is not None else 1,
                is_output=_feeds_output(node, model),
                block=block,
                frozen=module is not None and any(not p.requires_grad for p in module.parameters()),
                problem=problem,
                layer_problem=layer_problem,
            )
        )
    return ops


def _feeds_output(node: torch.fx.Node, model: nn.Module) -> bool:
    """The node reaches the model's output through no other layer with weights: a Linear
    followed by log_softmax (pytorch/examples' mnist Net) is the output layer all the same."""
    stack, seen = list(node.users), set()
    while stack:
        user = stack.pop()
        if user in seen:
            continue
        seen.add(user)
        if user.op == "output":
            return True
        if user.op == "call_module" and any(
            True for _ in model.get_submodule(str(user.target)).parameters()
        ):
            continue
        if user.op == "get_attr":
            continue
        stack.extend(user.users)
    return False


def _classify(
    node: torch.fx.Node, module: nn.Module | None
) -> tuple[Kind, int | None, int | None, str | None, str | None]:
    from torch import nn

    words = _vocabulary()
    if node.op == "placeholder":
        return Kind.INPUT, None, None, None, None
    if module is not None:
        if type(module) is nn.Linear:
            return Kind.DENSE, module.out_features, None, None, None
        if type(module) is nn.Conv2d:
            grouped = "a grouped convolution" if module.groups != 1 else None
            return Kind.CONV, module.out_channels, None, grouped, None
        if type(module) in (nn.BatchNorm1d, nn.BatchNorm2d):
            return Kind.BATCH_NORM, None, None, None, None
        if type(module) is nn.Flatten:
            return _flatten(node)
        if isinstance(module, words.modules):
            return Kind.PER_UNIT, None, None, None, None
        return Kind.OTHER, None, None, None, None
    if node.op == "call_function" and node.target in words.functions:
        return Kind.PER_UNIT, None, None, None, None
    if node.op == "call_method" and node.target in _PER_UNIT_METHODS:
        return Kind.PER_UNIT, None, None, None, None
    reshapes = node.op == "call_method" and node.target in _RESHAPES
    if reshapes or (node.op == "call_function" and node.target is words.flatten):
        return _flatten(node)
    return Kind.OTHER, None, None, None, None


def _flatten(node: torch.fx.Node) -> tuple[Kind, int | None, int | None, str | None, None]:
    """A reshape that turns (N, C, *S) into (N, C*prod(S)): channel-major blocks of prod(S)."""
    source = node.all_input_nodes[0] if node.all_input_nodes else None
    shape_in, shape_out = _shape(source), _shape(node)
    if shape_in is None or shape_out is None or len(shape_in) < 2:
        return Kind.OTHER, None, None, "its shapes are unknown", None
    if (
        len(shape_out) != 2
        or shape_out[0] != shape_in[0]
        or shape_out[1] != math.prod(shape_in[1:])
    ):
        return Kind.OTHER, None, None, f"it reshapes {shape_in} to {shape_out}", None
    return Kind.FLATTEN, None, math.prod(shape_in[2:]), None, None


def _shape(node: torch.fx.Node | None) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta") if node is not None else None
    shape = getattr(meta, "shape", None)
    return tuple(int(d) for d in shape) if shape is not None else None


def _is_tensor(node: torch.fx.Node) -> bool:
    return node.op == "placeholder" or _shape(node) is not None


def _shape_query(node: torch.fx.Node) -> bool:
    if node.op == "call_method":
        return node.target in _SHAPE_QUERIES
    return node.op == "call_function" and node.target in (getattr, len)


def _node_type(node: torch.fx.Node) -> str:
    if node.target is operator.add:
        return "add"
    return getattr(node.target, "__name__", str(node.target))
