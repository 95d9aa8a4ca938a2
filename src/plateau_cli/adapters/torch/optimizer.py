"""Rebuild the optimizer from its saved state so momentum, Adam's moments and `step` continue.

A torch optimizer state dict names neither its class nor its parameters. The class shows in the
hyper-parameters each param group carries (`betas` + `amsgrad` is Adam or AdamW, told apart by
`decoupled_weight_decay`; `momentum` + `dampening` + `nesterov` is SGD; `alpha` is RMSprop,
`lr_decay` Adagrad ...); `--optimizer` overrides the guess. The parameters come from
`param_match`. Parameters the saved optimizer never updated were frozen in the original run and
stay frozen. `load_state_dict` is called after the model is on its device: torch then casts each
state tensor to its parameter's device and dtype (and keeps `step` on the CPU, as Adam wants).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from plateau_cli.adapters.base import LoadOptions, OptimizerState
from plateau_cli.adapters.torch.param_match import Named, match_parameters
from plateau_cli.errors import UsageError

DEFAULT_OPTIMIZER = "Adam"
DEFAULT_LR = 1e-3

#: `--optimizer` names (case and dashes ignored) -> torch.optim class names.
OPTIMIZERS = {
    name.lower(): name
    for name in (
        "Adam",
        "AdamW",
        "SGD",
        "RMSprop",
        "Adagrad",
        "Adadelta",
        "Adamax",
        "NAdam",
        "RAdam",
        "ASGD",
        "Rprop",
        "Adafactor",
    )
    if hasattr(torch.optim, name)
}
#: Torch before 2.x wrote the same entries for Adam and AdamW: a guess, said as such.
AMBIGUOUS = "Adam or AdamW (the file does not say; pass --optimizer adam or adamw)"
#: Group entries that describe the device or implementation, not the optimization.
_DEVICE_FLAGS = frozenset({"foreach", "fused", "capturable", "differentiable"})


@dataclass(frozen=True)
class OptimizerSetup:
    optimizer: torch.optim.Optimizer
    state: OptimizerState
    #: A sentence on how the class was chosen or why the state could not be used.
    detail: str | None
    #: Parameters kept frozen because the saved optimizer never updated them.
    frozen: tuple[str, ...]
    notes: tuple[str, ...] = ()
    #: Why the saved state was read as this class (the param-group entries that tell).
    inferred_from: str | None = None

    def handle_arguments(self, options: LoadOptions, *, factory: bool) -> dict[str, Any]:
        """What every TorchHandle is built with from the optimizer and the load options, so
        a plain file and a Hugging Face directory cannot drift apart in what they carry.
        `factory`: whether the module came from `--model-factory` (then it is rebuilt from it)."""
        return {
            "optimizer": self.optimizer,
            "optimizer_state": self.state,
            "optimizer_detail": self.detail,
            "frozen_by_checkpoint": self.frozen,
            "optimizer_inferred_from": self.inferred_from,
            "loss_option": options.loss,
            "output_option": options.output,
            "model_factory": options.model_factory if factory else None,
            "factory_args": dict(options.factory_args) if factory else {},
        }


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    key = name.strip().lower().replace("-", "").replace("_", "")
    if key not in OPTIMIZERS:
        raise UsageError(
            f"--optimizer must be one of {', '.join(sorted(OPTIMIZERS))}. Received: {name!r}"
        )
    return getattr(torch.optim, OPTIMIZERS[key])


def infer_class(saved: Mapping[str, Any]) -> tuple[str | None, str]:
    """The torch.optim class a saved state dict came from, and why we think so."""
    groups = saved.get("param_groups") or [{}]
    keys = set(groups[0])
    state_keys = {k for entry in saved.get("state", {}).values() for k in entry}
    by_key = (
        ("momentum_decay", "NAdam"),
        ("beta2_decay", "Adafactor"),
        ("lambd", "ASGD"),
        ("etas", "Rprop"),
        ("lr_decay", "Adagrad"),
        ("rho", "Adadelta"),
        ("alpha", "RMSprop"),
        ("dampening", "SGD"),
        ("nesterov", "SGD"),
    )
    if "history_size" in keys or "ns_steps" in keys:
        return None, "LBFGS and Muon cannot be resumed by plateau-cli; pass --optimizer"
    for key, name in by_key:
        if key in keys:
            if not hasattr(torch.optim, name):
                return None, f"{name} (from '{key}') is not in torch {torch.__version__}"
            return name, f"its param groups have '{key}'"
    if "betas" not in keys:
        return None, f"unknown param-group entries {sorted(keys - {'params'})}"
    if "amsgrad" in keys:
        flag = groups[0].get("decoupled_weight_decay")
        if flag is not None:
            name = "AdamW" if flag else "Adam"
            return name, f"betas and amsgrad with decoupled_weight_decay={flag}"
        decay = float(groups[0].get("weight_decay", 0.0))
        if decay == 0:
            return "Adam", "betas and amsgrad without weight decay (Adam and AdamW step alike)"
        if decay == 0.01:
            return "AdamW", f"{AMBIGUOUS}: weight_decay=0.01 is AdamW's default"
        return "Adam", f"{AMBIGUOUS}: weight_decay={decay} read as Adam's L2 penalty"
    if "exp_inf" in state_keys or "decoupled_weight_decay" not in keys:
        return "Adamax", "betas without amsgrad"
    return "RAdam", "betas with decoupled_weight_decay and no amsgrad"


def build_optimizer(
    model: torch.nn.Module, saved: Any, options: LoadOptions, device: torch.device
) -> OptimizerSetup:
    """The optimizer for `model` (already on `device`), restored from `saved` when possible."""
    requested = optimizer_class(options.optimizer) if options.optimizer else None
    named = list(model.named_parameters())
    if isinstance(saved, torch.optim.Optimizer):  # a pickled optimizer object (trusted file)
        saved = saved.state_dict()
    if saved is None:
        cls = requested or getattr(torch.optim, DEFAULT_OPTIMIZER)
        lr = options.lr if options.lr is not None else DEFAULT_LR
        optimizer = _construct(cls, [[p for _, p in named if p.requires_grad]], {"lr": lr})
        detail = f"no optimizer state in the file: a new {cls.__name__} (lr {lr:g}) starts at zero"
        return OptimizerSetup(optimizer, OptimizerState.ABSENT, detail, ())
    inferred, why = infer_class(saved)
    match = match_parameters(named, saved)
    groups_lr = [g.get("lr", DEFAULT_LR) for g in saved["param_groups"]]
    if match is None:
        cls = requested or getattr(torch.optim, inferred or DEFAULT_OPTIMIZER)
        trainable = [p for _, p in named if p.requires_grad]
        optimizer = _construct(cls, [trainable], {"lr": float(groups_lr[0])})
        detail = (
            f"the saved optimizer state ({len(_saved_ids(saved))} parameters) does not fit the"
            f" model's {len(named)} parameters: a new {cls.__name__} starts from zero"
        )
        return _finish(optimizer, OptimizerState.SKIPPED, detail, (), options)
    frozen = _freeze_untrained(named, match.flat, saved)
    notes = (f"optimizer state placed on {match.note}",) if match.note else ()
    group_params = [[p for _, p in group] for group in match.groups]
    if inferred is None and requested is None:
        optimizer = _construct(torch.optim.Adam, group_params, {"lr": float(groups_lr[0])})
        detail = f"cannot tell the saved optimizer's class ({why}): a new Adam starts from zero"
        return _finish(optimizer, OptimizerState.SKIPPED, detail, frozen, options, notes)
    if requested is not None and requested.__name__ != inferred:
        optimizer = _construct(requested, group_params, {"lr": float(groups_lr[0])})
        _copy_learning_rates(optimizer, groups_lr)
        detail = (
            f"the saved state is {inferred or 'of an unknown optimizer'}'s; --optimizer"
            f" {requested.__name__} starts from zero with the saved learning rates"
        )
        return _finish(optimizer, OptimizerState.SKIPPED, detail, frozen, options, notes)
    cls = getattr(torch.optim, str(inferred))
    optimizer = _construct(cls, group_params, _constructor_args(cls, saved["param_groups"][0]))
    try:
        optimizer.load_state_dict(saved)
    except (ValueError, KeyError, RuntimeError, TypeError) as exc:
        optimizer = _construct(cls, group_params, _constructor_args(cls, saved["param_groups"][0]))
        detail = f"{cls.__name__} could not take the saved state ({exc}): it starts from zero"
        return _finish(optimizer, OptimizerState.SKIPPED, detail, frozen, options, notes)
    _fit_device_flags(optimizer, device)
    guessed = requested is None and AMBIGUOUS in why
    detail = f"restored as {cls.__name__}; {why}" if guessed else None
    setup = _finish(optimizer, OptimizerState.RESTORED, detail, frozen, options, notes)
    return dataclasses.replace(setup, inferred_from=why if requested is None else "--optimizer")


def scale_learning_rates(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set the first group's rate to `lr` and scale the others by the same factor.

    Discriminative rates (a base at 0.1x the head) keep their ratios; a first group at rate 0
    cannot give a factor, so then every group gets `lr`.
    """
    first = float(optimizer.param_groups[0]["lr"])
    factor = lr / first if first else None
    for group in optimizer.param_groups:
        new = lr if factor is None else float(group["lr"]) * factor
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(new)
        else:
            group["lr"] = new


def steps_taken(optimizer: torch.optim.Optimizer) -> int | None:
    """The largest per-parameter `step` in the state (Adam & co.); None when none is kept."""
    steps = [
        float(entry["step"])
        for entry in optimizer.state.values()
        if isinstance(entry, Mapping) and "step" in entry
    ]
    return int(max(steps)) if steps else None


def _finish(
    optimizer: torch.optim.Optimizer,
    state: OptimizerState,
    detail: str | None,
    frozen: tuple[str, ...],
    options: LoadOptions,
    notes: tuple[str, ...] = (),
) -> OptimizerSetup:
    """A new optimizer takes --lr; a restored one keeps its rate (the core applies --lr to it
    through `set_learning_rate`, and reports the change)."""
    if options.lr is not None and state is not OptimizerState.RESTORED:
        scale_learning_rates(optimizer, options.lr)
    return OptimizerSetup(optimizer, state, detail, frozen, notes)


def _freeze_untrained(
    named: list[Named], chosen: list[Named], saved: Mapping[str, Any]
) -> tuple[str, ...]:
    """requires_grad follows the original run: only parameters the optimizer updated train.

    A parameter outside the saved optimizer was frozen. One inside it but without any state,
    while others have some, never received a gradient (frozen after the optimizer was built,
    as Lightning's BaseFinetuning does). An optimizer without any state (plain SGD, or never
    stepped) tells nothing beyond membership.
    """
    ids = _saved_ids(saved)
    state = saved.get("state", {})
    any_state = any(state.get(pid) for pid in ids)
    updated = {
        name for (name, _), pid in zip(chosen, ids, strict=True) if not any_state or state.get(pid)
    }
    frozen = []
    for name, param in named:
        param.requires_grad_(name in updated)
        if name not in updated:
            frozen.append(name)
    return tuple(frozen)


def _saved_ids(saved: Mapping[str, Any]) -> list[Any]:
    return [pid for group in saved["param_groups"] for pid in group["params"]]


def _constructor_args(cls: type, group: Mapping[str, Any]) -> dict[str, Any]:
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "params"}
    return {
        k: float(v) if isinstance(v, torch.Tensor) and v.numel() == 1 else v
        for k, v in group.items()
        if k in accepted and k not in _DEVICE_FLAGS
    }


def _construct(
    cls: type[torch.optim.Optimizer], groups: list[list[torch.nn.Parameter]], kwargs: dict
) -> torch.optim.Optimizer:
    return cls([{"params": params} for params in groups], **kwargs)


def _copy_learning_rates(optimizer: torch.optim.Optimizer, rates: list[Any]) -> None:
    for group, lr in zip(optimizer.param_groups, rates, strict=True):
        group["lr"] = float(lr)


def _fit_device_flags(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """A state saved with capturable=True (CUDA graphs) cannot step on a CPU or MPS device."""
    if device.type != "cuda":
        for group in optimizer.param_groups:
            if group.get("capturable"):
                group["capturable"] = False
