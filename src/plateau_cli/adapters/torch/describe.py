"""What `inspect` shows for a torch model: layers, frozen parts, the optimizer and its state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from plateau_cli.adapters.base import LayerInfo, ModelDescription, OptimizerInfo
from plateau_cli.adapters.torch import layouts
from plateau_cli.adapters.torch.optimizer import steps_taken
from plateau_cli.adapters.torch.structure import kind
from plateau_cli.data.base import Task

if TYPE_CHECKING:
    from plateau_cli.adapters.torch.handle import TorchHandle

_HIDDEN_GROUP_KEYS = frozenset(
    {"params", "param_names", "lr", "initial_lr", "foreach", "fused", "differentiable"}
)
_MAX_NAMES = 12


def describe_model(handle: TorchHandle) -> ModelDescription:
    model = handle.model
    layers, trainable, frozen = _layers(model, handle.layer_shapes)
    loss = handle.loss
    metrics = ("accuracy",) if loss is not None and loss.task is not Task.REGRESSION else ()
    structure = handle.structure
    input_shape = (None, *structure.input_shape) if structure.input_shape is not None else None
    output_tail = handle.output_tail or (
        (structure.output_units,) if structure.output_units else None
    )
    return ModelDescription(
        framework="torch",
        format=handle.format,
        path=handle.path,
        layers=tuple(layers),
        trainable_params=trainable,
        frozen_params=frozen,
        optimizer=optimizer_info(handle),
        loss=loss.name if loss is not None else handle.loss_option,
        metrics=metrics,
        input_shape=input_shape,
        output_shape=(None, *output_tail) if output_tail is not None else None,
        notes=tuple(handle.notes()),
        extra=_extra(handle),
    )


def model_notes(handle: TorchHandle) -> list[str]:
    """What a person should know about the loaded model that the numbers do not say."""
    out = list(handle.load_notes)  # the optimizer's own sentence is in OptimizerInfo.detail
    if handle.frozen_by_checkpoint:
        out.append(
            f"{len(handle.frozen_by_checkpoint)} parameter tensors were not trained by the saved"
            " optimizer, so they were frozen in the original run and stay frozen:"
            f" {', '.join(handle.frozen_by_checkpoint[:6])}"
            + (" ..." if len(handle.frozen_by_checkpoint) > 6 else "")
        )
    if not handle.template.persists_optimizer:
        out.append(
            f"a {handle.layout.format} file holds no optimizer state: the output will not"
            " carry it either, and a later resume starts a new optimizer"
        )
    if handle.model_loss:
        out.append(
            "loss: the model's own (it returns one when given the labels), as its Trainer"
            " computes it; accuracy from its logits"
        )
    elif handle.loss is None and handle.loss_option is None:
        out.append(
            "loss: chosen from the labels at resume (cross-entropy for integer labels,"
            " BCE-with-logits for a single output, MSE for float targets) unless --loss"
        )
    elif handle.loss is not None and not handle.loss_option:
        out.append(f"loss {handle.loss.name}: {handle.loss.reason}")
    return out


def optimizer_info(handle: TorchHandle) -> OptimizerInfo:
    optimizer = handle.optimizer
    groups = optimizer.param_groups
    hyper: dict[str, Any] = {
        key: _plain(value) for key, value in groups[0].items() if key not in _HIDDEN_GROUP_KEYS
    }
    if len(groups) > 1:
        hyper["param_groups"] = len(groups)
        hyper["group_learning_rates"] = [float(g["lr"]) for g in groups]
    return OptimizerInfo(
        name=type(optimizer).__name__,
        learning_rate=handle.learning_rate(),
        state=handle.optimizer_state,
        iterations=steps_taken(optimizer),
        detail=handle.optimizer_detail,
        hyperparameters=hyper,
    )


def _layers(
    model: torch.nn.Module, shapes: Mapping[str, tuple[int, ...]]
) -> tuple[list[LayerInfo], int, int]:
    layers: list[LayerInfo] = []
    seen: set[int] = set()
    trainable = frozen = 0
    for name, module in model.named_modules():
        own = [p for _, p in module.named_parameters(recurse=False) if id(p) not in seen]
        if not own:
            continue
        seen.update(id(p) for p in own)
        count = sum(p.numel() for p in own)
        training = sum(p.numel() for p in own if p.requires_grad)
        trainable += training
        frozen += count - training
        shape = shapes.get(name)
        layers.append(
            LayerInfo(
                name=name or "(root)",
                kind=kind(module),
                output_shape=_shape_text(shape) if shape is not None else None,
                params=count,
                trainable_params=training,
            )
        )
    return layers, trainable, frozen


def _extra(handle: TorchHandle) -> dict[str, Any]:
    layout = handle.layout
    source = handle.source_info
    extra: dict[str, Any] = {
        "layout": layout.format,
        "device": str(handle.device),
    }
    if layout.keys:
        extra["keys"] = list(layout.keys)
    for key in layout.epoch_keys:
        extra["checkpoint_epoch" if key == "epoch" else key] = source.get(key)
    for key in layout.step_keys:
        extra[key] = source.get(key)
    if source:
        extra["checkpoint_values"] = dict(source)
    if handle.template.prefix:
        extra["state_dict_prefix"] = handle.template.prefix
    if handle.template.extras:
        extra["entries_outside_the_model"] = sorted(handle.template.extras)[:_MAX_NAMES]
    if layout.model_key is not None:
        extra["model_entry"] = layout.model_key
    if layout.optimizer_key is not None:
        extra["optimizer_entry"] = layout.optimizer_key
    if handle.optimizer_inferred_from:
        extra["optimizer_class_from"] = handle.optimizer_inferred_from
    if layout.optimizer_count > 1:
        extra["optimizers_saved"] = layout.optimizer_count
    if layout.scheduler_keys:
        extra["scheduler_entries"] = list(layout.scheduler_keys)
    if layout.other_state_dicts:
        extra["other_state_dicts"] = list(layout.other_state_dicts)
    if layout.format == layouts.LIGHTNING and "pytorch-lightning_version" in source:
        extra["lightning_version"] = source["pytorch-lightning_version"]
    if handle.frozen_by_checkpoint:
        extra["frozen_parameters"] = list(handle.frozen_by_checkpoint[:_MAX_NAMES])
    if handle.model_factory:
        extra["model_factory"] = handle.model_factory
    if handle.trusted_pickle:
        extra["loaded_with_trust_pickle"] = True
    return extra


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(["None", *(str(d) for d in shape)]) + ")"


def _plain(value: Any) -> Any:
    """JSON-friendly hyper-parameters (tuples as lists, 0-d tensors as floats)."""
    if isinstance(value, torch.Tensor):
        return float(value) if value.numel() == 1 else value.tolist()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
