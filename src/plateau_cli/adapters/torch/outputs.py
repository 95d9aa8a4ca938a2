"""What a batch holds and what a model returns, following the ecosystem's conventions.

Batches: `(inputs, targets)`; `(x, lengths, ..., targets)` (every item but the last is an input,
passed positionally: a padded-sequence collate); or a dict (Hugging Face: `input_ids`,
`attention_mask`, `labels`) passed as keyword arguments, its `labels` given to the model when its
forward takes them. Outputs: a tensor; or a dict, a tuple or a transformers `ModelOutput`, whose
predictions are `.logits` / `["logits"]` / the first element unless `--output KEY|INDEX` says
otherwise, and whose `loss` (returned when the model was given labels) is the loss trained on.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from plateau_cli.errors import DataMismatchError, UsageError

#: Keys of a dict batch that hold the targets, in the order they are looked for.
LABEL_KEYS = ("labels", "label", "targets", "target", "y")


def split_batch(item: Any, what: str) -> tuple[Any, Any]:
    """`(inputs, targets)` of one batch; inputs a tensor, a tuple (positional) or a dict."""
    if isinstance(item, Mapping):
        key = next((k for k in LABEL_KEYS if k in item), None)
        if key is None:
            raise DataMismatchError(
                f"the {what} data yields dicts with keys {', '.join(map(str, item))}; none holds"
                f" the targets (expected one of {', '.join(LABEL_KEYS)})"
            )
        return dict(item), item[key]
    if isinstance(item, list | tuple) and len(item) >= 2:
        inputs = item[0] if len(item) == 2 else tuple(item[:-1])
        return inputs, item[-1]
    raise DataMismatchError(
        f"the {what} data yields {type(item).__name__} items; expected (inputs, targets),"
        " (inputs, lengths, targets) or a dict with labels"
    )


def to_device(value: Any, device: torch.device) -> Any:
    """Tensors moved to `device`, inside tuples, lists and dicts too."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, Mapping):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return type(value)(to_device(v, device) for v in value)
    return value


def first_rows(value: Any, count: int) -> Any:
    """The first `count` samples of a batch's inputs (every tensor sliced on its batch axis)."""
    if isinstance(value, torch.Tensor):
        return value[:count] if value.dim() else value
    if isinstance(value, Mapping):
        return {k: first_rows(v, count) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return type(value)(first_rows(v, count) for v in value)
    return value[:count] if hasattr(value, "__getitem__") and hasattr(value, "shape") else value


def batch_size_of(target: Any) -> int:
    return int(target.shape[0]) if hasattr(target, "shape") and len(target.shape) else 1


def describe_inputs(value: Any) -> str:
    """Shapes and dtypes of a batch's inputs, for one-line errors."""
    if isinstance(value, torch.Tensor):
        return f"{tuple(value.shape)} {str(value.dtype).removeprefix('torch.')}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {describe_inputs(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(describe_inputs(v) for v in value) + ")"
    shape = getattr(value, "shape", None)
    return f"{tuple(shape)} {getattr(value, 'dtype', '')}".strip() if shape is not None else "?"


def parse_output_option(text: str | None) -> str | int | None:
    """`--output logits` (a key or attribute) or `--output 0` (an index)."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else text


@dataclass(frozen=True)
class ModelCall:
    """How to call the model on a batch's inputs and read its predictions and its own loss."""

    #: --output: the key, attribute or index of the predictions (None: the conventions).
    output: str | int | None = None
    #: Keyword arguments the forward accepts (None: any, it takes **kwargs).
    keywords: frozenset[str] | None = None
    #: Train on the loss the model returns (given labels) rather than plateau-cli's own.
    model_loss: bool = True

    @classmethod
    def for_model(
        cls, model: torch.nn.Module, output: str | int | None, model_loss: bool
    ) -> ModelCall:
        return cls(output, forward_keywords(model), model_loss)

    def __call__(self, model: torch.nn.Module, inputs: Any) -> Any:
        if isinstance(inputs, Mapping):
            if self.keywords is not None:
                inputs = {k: v for k, v in inputs.items() if k in self.keywords}
            return model(**inputs)
        if isinstance(inputs, tuple):
            return model(*inputs)
        return model(inputs)

    def predictions(self, output: Any) -> torch.Tensor:
        picked = _pick(output, self.output) if self.output is not None else _conventional(output)
        if not isinstance(picked, torch.Tensor):
            where = f"--output {self.output}" if self.output is not None else "the predictions"
            raise DataMismatchError(
                f"{where} of the model's {type(output).__name__} output is a"
                f" {type(picked).__name__}, not a tensor; pass --output KEY|INDEX to name the"
                f" tensor of predictions{_keys_hint(output)}"
            )
        return picked

    def own_loss(self, output: Any) -> torch.Tensor | None:
        """The scalar `loss` a model returns when given labels (HF convention), else None."""
        if not self.model_loss or isinstance(output, torch.Tensor):
            return None
        loss = output.get("loss") if isinstance(output, Mapping) else getattr(output, "loss", None)
        return loss if isinstance(loss, torch.Tensor) and loss.dim() == 0 else None


def forward_keywords(model: torch.nn.Module) -> frozenset[str] | None:
    try:
        parameters = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(p.name for p in parameters)


def _conventional(output: Any) -> Any:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping):
        if "logits" in output:
            return output["logits"]
        return next(iter(output.values()), None)
    logits = getattr(output, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(output, tuple | list) and output:
        return output[0]
    return output


def _pick(output: Any, key: str | int) -> Any:
    try:
        if isinstance(key, int):
            if isinstance(output, Mapping):
                return list(output.values())[key]
            return output[key]
        if isinstance(output, Mapping):
            return output[key]
        return getattr(output, key)
    except (KeyError, IndexError, AttributeError, TypeError) as exc:
        raise UsageError(
            f"--output {key}: the model's {type(output).__name__} output has no such"
            f" {'index' if isinstance(key, int) else 'key'}{_keys_hint(output)}"
        ) from exc


def _keys_hint(output: Any) -> str:
    if isinstance(output, Mapping):
        return f" (its keys: {', '.join(map(str, output))})"
    if isinstance(output, tuple | list):
        return f" (it has {len(output)} elements)"
    return ""
