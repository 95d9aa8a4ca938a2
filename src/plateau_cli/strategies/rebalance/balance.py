"""Class weights and balanced metrics, framework-free.

Balanced accuracy is the mean of the per-class recalls: a model that always answers the
majority class of a 90/10 split scores 0.90 accuracy but 0.50 balanced accuracy, which is why
rebalance judges `improved` on it (its validation loss can rise while minority recall does:
FINDINGS §6, 0.30 -> 0.42 with balanced accuracy 0.50 -> 0.62).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plateau_cli.strategies.rebalance.options import Smoothing

#: Majority/minority ratio from which a split counts as imbalanced (as the data health check).
IMBALANCED = 3.0


def class_weights(labels: np.ndarray, classes: int, smoothing: Smoothing) -> np.ndarray:
    """Per-class weights, inverse (or inverse-sqrt) frequency, with mean 1 over the samples.

    A class absent from the labels gets weight 0 (nothing to draw)."""
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(classes)
    power = 0.5 if smoothing is Smoothing.SQRT else 1.0
    weights[present] = (counts[present].sum() / counts[present]) ** power
    return weights * len(labels) / float((weights[labels]).sum())


def imbalance_ratio(labels: np.ndarray) -> float:
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    return float(counts.max() / counts.min()) if len(counts) else 1.0


@dataclass(frozen=True)
class Balanced:
    accuracy: float
    balanced_accuracy: float
    recalls: tuple[float | None, ...]


def balanced(truth: np.ndarray, predicted: np.ndarray, classes: int) -> Balanced:
    """Accuracy, balanced accuracy and per-class recall (None for a class absent from truth)."""
    recalls: list[float | None] = []
    for c in range(classes):
        mask = truth == c
        recalls.append(float((predicted[mask] == c).mean()) if mask.any() else None)
    present = [r for r in recalls if r is not None]
    return Balanced(
        float((truth == predicted).mean()) if len(truth) else 0.0,
        float(np.mean(present)) if present else 0.0,
        tuple(recalls),
    )


def labels_from_outputs(outputs: np.ndarray, logits: bool) -> np.ndarray:
    """Predicted classes: argmax over several outputs, a threshold on one (0 for logits)."""
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        return outputs.argmax(axis=1)
    flat = outputs.reshape(len(outputs))
    return (flat > (0.0 if logits else 0.5)).astype(np.int64)
