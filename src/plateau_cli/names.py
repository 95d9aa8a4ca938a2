"""Metric names: one canonical spelling per metric, and whether bigger is better.

Logs spell the same metric many ways (`acc`, `accuracy`, `train_acc`, `Val Acc`, `eval_loss`).
Detectors and the report work on canonical names; readers keep the originals for the JSON.
"""

from __future__ import annotations

import re

VAL_PREFIX = "val_"

_VAL_PREFIXES = ("validation_", "valid_", "val_", "eval_", "dev_")
_TRAIN_PREFIXES = ("training_", "train_")
_SUFFIXES_DROPPED = ("_epoch",)  # Lightning's on_epoch aggregation suffix

_ALIASES = {
    "acc": "accuracy",
    "accuracy": "accuracy",
    "categorical_accuracy": "accuracy",
    "sparse_categorical_accuracy": "accuracy",
    "binary_accuracy": "accuracy",
    "top1": "accuracy",
    "top_1_accuracy": "accuracy",
    "loss": "loss",
    "lr": "lr",
    "learning_rate": "lr",
    "learningrate": "lr",
}

#: Metrics that are not about the model's quality: never monitored, never prefixed.
NON_MODEL_METRICS = frozenset({"lr", "epoch", "step", "grad_norm", "time", "epoch_time"})

_MAX_HINTS = ("acc", "auc", "precision", "recall", "f1", "iou", "dice", "map", "r2", "top", "bleu")


def canonical_name(raw: str) -> str:
    """Return the canonical spelling of a metric name as written in some log.

    >>> canonical_name("Val Acc"), canonical_name("eval_loss"), canonical_name("train_acc_epoch")
    ('val_accuracy', 'val_loss', 'accuracy')
    """
    name = raw.strip().lower()
    name = re.sub(r"[\s\-/.]+", "_", name)
    name = re.sub(r"_+", "_", name).strip("_")
    is_val = False
    for prefix in _VAL_PREFIXES:
        if name.startswith(prefix):
            name, is_val = name[len(prefix) :], True
            break
    else:
        for prefix in _TRAIN_PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
    for suffix in _SUFFIXES_DROPPED:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    name = _ALIASES.get(name, name)
    if name in NON_MODEL_METRICS:
        return name
    return VAL_PREFIX + name if is_val else name


def is_validation(name: str) -> bool:
    """True for canonical validation metric names (`val_loss`)."""
    return name.startswith(VAL_PREFIX)


def base_name(name: str) -> str:
    """`val_accuracy` -> `accuracy`; train names are returned unchanged."""
    return name[len(VAL_PREFIX) :] if is_validation(name) else name


def validation_name(name: str) -> str:
    """`accuracy` -> `val_accuracy`."""
    return name if is_validation(name) else VAL_PREFIX + name


def higher_is_better(name: str) -> bool:
    """Infer a metric's mode from its name, as Keras' `mode='auto'` does (and a little more)."""
    base = base_name(canonical_name(name))
    if "loss" in base or "error" in base or base in {"mae", "mse", "rmse", "mape", "perplexity"}:
        return False
    return any(hint in base for hint in _MAX_HINTS)
