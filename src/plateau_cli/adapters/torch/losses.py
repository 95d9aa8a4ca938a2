"""The loss, and with it the task and how accuracy is counted.

A torch checkpoint does not record its loss. `--loss` names one (torch or Keras spellings);
otherwise the labels decide once the data is known: integer labels are classes (cross-entropy,
or BCE-with-logits for a single output), float targets are regression (MSE). The model's last
layer refines it: a LogSoftmax head wants NLL, a Sigmoid head plain BCE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from plateau_cli.adapters.torch.structure import Structure
from plateau_cli.data.base import Task
from plateau_cli.errors import UsageError

#: How targets must look for the loss: class indices, class probabilities, or floats.
INDEX, PROBABILITIES, FLOAT = "index", "probabilities", "float"
#: How a prediction counts as right: argmax, a logit above 0, a probability above 0.5, or none.
ARGMAX, LOGIT, PROBABILITY = "argmax", "logit", "probability"


@dataclass(frozen=True)
class LossChoice:
    name: str
    task: Task
    target: str
    accuracy: str | None
    reason: str

    def build(self, class_weights: np.ndarray | None = None) -> torch.nn.Module:
        """The loss module; with `class_weights`, each sample's loss times its class's weight."""
        if class_weights is None or self.task is Task.REGRESSION:
            return _BUILDERS[self.name]()
        return ClassWeighted(_BUILDERS[self.name](reduction="none"), class_weights, self.target)


class ClassWeighted(torch.nn.Module):
    """mean_i w[class_i] * loss_i: Keras' `class_weight` (sample weights, "sum over batch
    size"), so a weighted resume means the same in both frameworks. rebalance's weights have
    mean 1 over the training samples, so the loss keeps its scale.

    The class of a sample is its index target, the argmax of a probability row, or a 0/1
    target above 0.5 (binary); the weight applies to every element of that sample's loss.
    """

    def __init__(self, loss: torch.nn.Module, weights: np.ndarray, target: str) -> None:
        super().__init__()
        self.loss = loss
        self.target = target
        self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float32))

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        per = self.loss(prediction, target)
        if self.target == PROBABILITIES or (target.is_floating_point() and self.target == INDEX):
            labels = target.argmax(1)  # class probabilities (or mixup's soft targets)
        elif target.is_floating_point():
            labels = (target > 0.5).long()
        else:
            labels = target.long()
        weight = self.weights.to(per.device, per.dtype)[labels]
        while weight.dim() < per.dim():
            weight = weight.unsqueeze(-1)
        return (per * weight).mean()


_BUILDERS = {
    "cross-entropy": torch.nn.CrossEntropyLoss,
    "nll": torch.nn.NLLLoss,
    "bce-with-logits": torch.nn.BCEWithLogitsLoss,
    "bce-probabilities": torch.nn.BCELoss,
    "mse": torch.nn.MSELoss,
    "l1": torch.nn.L1Loss,
    "huber": torch.nn.SmoothL1Loss,
}
_ALIASES = {
    "crossentropy": "cross-entropy",
    "ce": "cross-entropy",
    "crossentropyloss": "cross-entropy",
    "sparsecategoricalcrossentropy": "cross-entropy",
    "categoricalcrossentropy": "cross-entropy",
    "nll": "nll",
    "nllloss": "nll",
    "bcewithlogits": "bce-with-logits",
    "bcewithlogitsloss": "bce-with-logits",
    "binarycrossentropy": "bce-with-logits",
    "bce": "bce-with-logits",
    "bceloss": "bce-probabilities",
    "bceprobabilities": "bce-probabilities",
    "mse": "mse",
    "mseloss": "mse",
    "meansquarederror": "mse",
    "l1": "l1",
    "l1loss": "l1",
    "mae": "l1",
    "meanabsoluteerror": "l1",
    "huber": "huber",
    "smoothl1": "huber",
    "smoothl1loss": "huber",
}


def canonical_loss(name: str) -> str:
    if name in _BUILDERS:
        return name
    key = "".join(ch for ch in name.lower() if ch.isalnum())
    if key not in _ALIASES:
        raise UsageError(
            f"--loss must be one of {', '.join(sorted(_BUILDERS))} (Keras names such as"
            f" sparse_categorical_crossentropy are accepted too). Received: {name!r}"
        )
    return _ALIASES[key]


def named_loss(name: str, structure: Structure) -> LossChoice:
    """`--loss` as given, adjusted to a Sigmoid head (BCE on probabilities, not logits)."""
    canonical = canonical_loss(name)
    if canonical == "bce-with-logits" and structure.output_activation == "sigmoid":
        canonical = "bce-probabilities"
    return _choice(canonical, f"--loss {name}")


def resolve_loss(option: str | None, labels: np.ndarray, structure: Structure) -> LossChoice:
    """`--loss` when given, else the default for the labels; targets shaped for the loss."""
    choice = named_loss(option, structure) if option else infer_loss(labels, structure)
    if choice.name == "cross-entropy" and labels.ndim == 2 and labels.dtype.kind == "f":
        return LossChoice(choice.name, choice.task, PROBABILITIES, choice.accuracy, choice.reason)
    return choice


def infer_loss(labels: np.ndarray, structure: Structure) -> LossChoice:
    """The default loss for these labels and this model's output layer."""
    units = structure.output_units
    if labels.dtype.kind in "biu":
        if units == 1:
            return _choice(_binary(structure), "integer labels and a single output: binary")
        if structure.output_activation == "log_softmax":
            return _choice("nll", "integer labels and a LogSoftmax output")
        return _choice("cross-entropy", "integer labels: classification")
    if labels.dtype.kind == "f":
        if units == 1 and labels.ndim <= 2 and labels.size and np.isin(labels[:4096], (0, 1)).all():
            return _choice(_binary(structure), "0/1 labels and a single output: binary")
        if _looks_like_distributions(labels, units):
            return _choice("cross-entropy", "float rows that sum to 1: class probabilities")
        if labels.ndim == 1 and units is not None and units > 1 and _whole_numbers(labels, units):
            return _choice(
                "cross-entropy", f"whole-number float labels 0..{units - 1} and {units} outputs"
            )
        return _choice("mse", "float targets: regression")
    raise UsageError(
        f"labels of dtype {labels.dtype} fit no default loss; pass --loss (cross-entropy, mse...)"
    )


def _binary(structure: Structure) -> str:
    """A Sigmoid head outputs probabilities; any other single output is a logit."""
    return "bce-probabilities" if structure.output_activation == "sigmoid" else "bce-with-logits"


def _choice(name: str, reason: str) -> LossChoice:
    if name in {"cross-entropy", "nll"}:
        return LossChoice(name, Task.CLASSIFICATION, INDEX, ARGMAX, reason)
    if name in {"bce-with-logits", "bce-probabilities"}:
        accuracy = LOGIT if name == "bce-with-logits" else PROBABILITY
        return LossChoice(name, Task.BINARY, FLOAT, accuracy, reason)
    return LossChoice(name, Task.REGRESSION, FLOAT, None, reason)


def _looks_like_distributions(labels: np.ndarray, units: int | None) -> bool:
    if labels.ndim != 2 or labels.shape[1] < 2 or (units is not None and units != labels.shape[1]):
        return False
    sample = labels[:1024]
    return bool(np.all(sample >= 0) and np.allclose(sample.sum(axis=1), 1.0, atol=1e-3))


def _whole_numbers(labels: np.ndarray, units: int) -> bool:
    sample = labels[:4096]
    return bool(
        np.all(np.isfinite(sample))
        and np.all(sample == np.round(sample))
        and sample.min() >= 0
        and sample.max() < units
    )
