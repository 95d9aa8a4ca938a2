"""widen for PyTorch: trace the forward, replace the modules wider, remap the optimizer.

A torch module says nothing about which layer feeds which; its `forward` does. torch.fx
symbolic tracing records that forward as a graph (and ShapeProp, on two validation samples,
the shapes on it), which `graph.Graph` walks like Keras' own. A forward that fx cannot trace
(data-dependent control flow, a TorchScript archive) is refused by name: guessing the consumer
from the module order would be silently wrong for anything but a plain chain.

The wider modules replace the old ones in place (`setattr` on the parent), so the state-dict
names stay; the optimizer is rebuilt with the same class and param-group hyper-parameters and
its state remapped per parameter (`Optimizer.load_state_dict` would accept the old shapes and
fail at the first step): `torch_state`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from plateau_cli.adapters.torch.handle import TorchHandle
from plateau_cli.adapters.torch.layouts import PICKLED_MODULE
from plateau_cli.data.base import DataBundle
from plateau_cli.errors import StrategyNotApplicableError
from plateau_cli.strategies.base import StrategyContext, StrategyOutcome
from plateau_cli.strategies.widen import plan, torch_state
from plateau_cli.strategies.widen.arithmetic import UnitAxis, UnitMap
from plateau_cli.strategies.widen.graph import Chain, Kind
from plateau_cli.strategies.widen.options import WidenOptions
from plateau_cli.strategies.widen.outcome import Widened, build_outcome
from plateau_cli.strategies.widen.torch_graph import read_graph
from plateau_cli.strategies.widen.torch_state import to_numpy


def apply(
    handle: TorchHandle, data: DataBundle, context: StrategyContext, options: WidenOptions
) -> StrategyOutcome:
    model = handle.model
    inputs = list(_validation_inputs(handle, data, context))
    graph = read_graph(model, inputs[0][:2])
    chain, chosen_by = graph.choose(options.layer)
    if chain.layer.kind is Kind.DENSE and chain.block > 1:
        raise StrategyNotApplicableError(
            f"cannot widen {chain.layer.name}: a Flatten after a Linear over more than 2-D"
            " inputs interleaves its units, which widen does not follow for torch"
        )
    old_width = int(chain.layer.width or 0)
    new_width = options.new_width(old_width)
    rng = np.random.default_rng(context.seed)
    units = plan.unit_map(options.init, old_width, new_width, rng)
    params_before = sum(p.numel() for p in model.parameters())
    original = _outputs(model, inputs)
    old_modules = {name: model.get_submodule(name) for name in _touched(chain)}
    new_modules = _wider_modules(old_modules, chain, units, options, rng)
    _swap(model, new_modules)
    try:
        before = plan.check_preserved(chain, options.init, original, _outputs(model, inputs))
    except StrategyNotApplicableError:
        _swap(model, old_modules)
        raise
    after = None
    if options.effective_noise > 0:
        weight = new_modules[chain.layer.name].weight
        noisy = plan.noisy(to_numpy(weight), UnitAxis(0), units, options, rng)
        with torch.no_grad():
            weight.copy_(torch.from_numpy(noisy))
        after = plan.max_abs_change(original, _outputs(model, inputs))
    remap = torch_state.remap_optimizer(handle, old_modules, new_modules, chain, units, options)
    rebuilt = rebuilt_factory_args(handle, chain, new_width)
    rebuild = _rebuild_note(handle, chain, new_width, rebuilt)  # before the args change below
    if rebuilt is not None:
        handle.factory_args = dict(rebuilt)  # what builds the module now (Lightning hparams)
    widened = Widened(
        chain=chain,
        chosen_by=chosen_by,
        new_width=new_width,
        init=options.init,
        noise=options.effective_noise,
        change_before_noise=before,
        change_after_noise=after,
        samples=sum(len(x) for x in inputs),
        params_before=params_before,
        params_after=sum(p.numel() for p in model.parameters()),
        optimizer=remap,
        rebuild=rebuild,
        factory_args=rebuilt,
    )
    return build_outcome(widened, options, context.seed)


# -- the new modules ------------------------------------------------------------------------


def target(handle: TorchHandle, data: DataBundle, context: StrategyContext) -> tuple[str, int]:
    sample = next(iter(_validation_inputs(handle, data, context)))
    chain, _ = read_graph(handle.model, sample[:2]).choose(None)
    return chain.layer.name, int(chain.layer.width or 0)


def _touched(chain: Chain) -> list[str]:
    return [chain.layer.name, *(n.name for n in chain.batch_norms), chain.consumer.name]


def _wider_modules(
    old: dict[str, nn.Module],
    chain: Chain,
    units: UnitMap,
    options: WidenOptions,
    rng: np.random.Generator,
) -> dict[str, nn.Module]:
    layer = old[chain.layer.name]
    kernel, bias = plan.layer_arrays(
        to_numpy(layer.weight), to_numpy(layer.bias), UnitAxis(0), units, options, rng
    )
    out = {chain.layer.name: _like(layer, kernel, bias, out_width=units.new)}
    for norm in chain.batch_norms:
        bn = old[norm.name]
        values = {"gamma": bn.weight, "beta": bn.bias, "mean": bn.running_mean}
        values["variance"] = bn.running_var
        grown = plan.norm_arrays({k: to_numpy(v) for k, v in values.items()}, units, options)
        out[norm.name] = _norm_like(bn, units.new, grown)
    consumer = old[chain.consumer.name]
    where = UnitAxis(1, chain.block, inner=False)
    new_in = units.new * chain.block
    fan_in = new_in * int(np.prod(consumer.weight.shape[2:]))
    kernel, bias = plan.consumer_arrays(
        to_numpy(consumer.weight), to_numpy(consumer.bias), where, units, options, fan_in, rng
    )
    out[chain.consumer.name] = _like(consumer, kernel, bias, in_width=new_in)
    return out


def _like(
    module: nn.Module,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    out_width: int | None = None,
    in_width: int | None = None,
) -> nn.Module:
    """A Linear/Conv2d like `module` with new widths, holding `kernel` and `bias`."""
    w = module.weight
    has_bias = module.bias is not None
    if isinstance(module, nn.Linear):
        new: nn.Module = nn.Linear(
            in_width or module.in_features, out_width or module.out_features, bias=has_bias,
            device=w.device, dtype=w.dtype,
        )  # fmt: skip
    else:
        new = nn.Conv2d(
            in_width or module.in_channels, out_width or module.out_channels, module.kernel_size,
            stride=module.stride, padding=module.padding, dilation=module.dilation,
            bias=has_bias, padding_mode=module.padding_mode, device=w.device, dtype=w.dtype,
        )  # fmt: skip
    _fill(new.weight, kernel)
    if bias is not None:
        _fill(new.bias, bias)
    return new.train(module.training)


def _norm_like(bn: nn.Module, width: int, grown: dict[str, np.ndarray | None]) -> nn.Module:
    ref = bn.running_mean if bn.running_mean is not None else bn.weight
    new = type(bn)(
        width, eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
        track_running_stats=bn.track_running_stats, device=ref.device, dtype=ref.dtype,
    )  # fmt: skip
    for attr, role in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "mean")):
        if grown[role] is not None:
            _fill(getattr(new, attr), grown[role])
    if grown["variance"] is not None:
        _fill(new.running_var, grown["variance"])
    if bn.num_batches_tracked is not None:
        new.num_batches_tracked.copy_(bn.num_batches_tracked)
    return new.train(bn.training)


def _fill(tensor: torch.Tensor, values: np.ndarray | None) -> None:
    with torch.no_grad():
        tensor.copy_(torch.from_numpy(np.ascontiguousarray(values)))


def _swap(model: nn.Module, modules: dict[str, nn.Module]) -> None:
    for name, module in modules.items():
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


# -- outputs ---------------------------------------------------------------------------------


def _validation_inputs(
    handle: TorchHandle, data: DataBundle, context: StrategyContext
) -> Iterator[torch.Tensor]:
    prepared = handle.prepare(data, context.batch_size, context.seed)
    seen = 0
    for x, _ in prepared.val:
        if not isinstance(x, torch.Tensor):
            raise StrategyNotApplicableError(
                f"widen traces a forward that takes one input tensor; {type(handle.model).__name__}"
                f" takes a {type(x).__name__} of inputs (lengths, masks or keyword arguments):"
                " widen its layer in your code instead"
            )
        yield x
        seen += len(x)
        if seen >= plan.MAX_SAMPLES:
            return


def _outputs(model: nn.Module, inputs: list[torch.Tensor]) -> list[np.ndarray]:
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            return [model(x).detach().cpu().double().numpy().reshape(len(x), -1) for x in inputs]
    finally:
        for module, training in modes.items():
            module.training = training


def _rebuild_note(handle: TorchHandle, chain: Chain, new_width: int, rebuilt: dict | None) -> str:
    layer, word = chain.layer.name, chain.layer.unit_word
    if handle.template.layout.format == PICKLED_MODULE:
        return (
            f"the checkpoint holds the whole module: it loads as it is, with '{layer}'"
            f" {new_width} {word} wide"
        )
    key = next((k for k, v in (rebuilt or {}).items() if handle.factory_args.get(k) != v), None)
    if key is not None:
        return (
            f"the checkpoint now holds '{layer}' with {new_width} {word} (was"
            f" {chain.layer.width}): rebuild the module with --factory-arg {key}={new_width}"
        )
    return (
        f"the checkpoint now holds '{layer}' with {new_width} {word} (was {chain.layer.width}):"
        f" rebuild the module with your factory given the new width (e.g. --factory-arg"
        f" hidden={new_width}, with your factory's name for the width of '{layer}')"
    )


def width_argument(handle: TorchHandle, old_width: int, new_width: int) -> str | None:
    """The factory argument that sets the widened layer's width, found by trying: each keyword
    whose value (given with --factory-arg, else its default) is the old width is set to the new
    one, and the module that builds with exactly the widened shapes names it."""
    if not handle.model_factory:
        return None
    defaults = _factory_defaults(handle.model_factory)
    values = {**defaults, **handle.factory_args}
    candidates = [k for k, v in values.items() if type(v) is int and v == old_width]
    wanted = {k: tuple(v.shape) for k, v in handle.model.state_dict().items()}
    for key in candidates:
        try:
            from plateau_cli import entry_points

            built = entry_points.call(
                handle.model_factory, "--model-factory", {**handle.factory_args, key: new_width}
            )
            shapes = {k: tuple(v.shape) for k, v in built.state_dict().items()}
        except Exception:  # any failure here just means "not this argument"
            continue
        if shapes == wanted:
            return key
    return None


def _factory_defaults(spec: str) -> dict[str, object]:
    import inspect

    from plateau_cli import entry_points
    from plateau_cli.errors import PlateauError

    try:
        signature = inspect.signature(entry_points.resolve(spec, "--model-factory"))
    except (PlateauError, TypeError, ValueError):
        return {}
    return {
        name: p.default
        for name, p in signature.parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def rebuilt_factory_args(handle: TorchHandle, chain: Chain, new_width: int) -> dict | None:
    """The factory arguments that rebuild the widened module, when they can be told."""
    key = width_argument(handle, int(chain.layer.width or 0), new_width)
    return None if key is None else {**handle.factory_args, key: new_width}
