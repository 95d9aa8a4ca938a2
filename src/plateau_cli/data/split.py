"""The validation split for data that has none: deterministic, seeded, stratified for classes.

The same file, fraction and seed always give the same split (on any machine: numpy's PCG64
stream is fixed), so a re-run of `resume` evaluates the same validation samples and its report
numbers can be compared. Classification labels are split per class, so a rare class keeps its
share of the validation set instead of vanishing from it by chance, and every class with at
least two samples keeps one in training.
"""

from __future__ import annotations

import numpy as np

from plateau_cli.data import aligned
from plateau_cli.data.base import ArraySplit
from plateau_cli.data.task import class_labels
from plateau_cli.errors import BadInputError


def split_indices(
    n: int, val_split: float, seed: int, source: str, strata: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, val) row indices; `strata` holds a class index per row, or None."""
    if n < 2:
        raise BadInputError(
            f"{source}: {n} sample(s) cannot be split into training and validation data;"
            " at least 2 are needed"
        )
    n_val = min(max(round(n * val_split), 1), n - 1)
    rng = np.random.default_rng(seed)
    val = _stratified(strata, n_val, rng) if strata is not None else None
    if val is None:
        order = rng.permutation(n)
        return np.sort(order[n_val:]), np.sort(order[:n_val])
    mask = np.ones(n, dtype=bool)
    mask[val] = False
    return np.flatnonzero(mask), val


def _stratified(strata: np.ndarray, n_val: int, rng: np.random.Generator) -> np.ndarray | None:
    """Sorted validation indices drawn per class; None when the classes are mostly singletons."""
    _, inverse, counts = np.unique(strata, return_inverse=True, return_counts=True)
    if int(np.maximum(counts - 1, 0).sum()) < n_val:
        # Mostly one sample per "class" (integer regression targets, ids): strata would leave
        # the validation set short, so the caller splits plainly.
        return None
    allocation = _allocate(counts, n_val, rng)
    by_class = np.argsort(inverse, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)))
    parts = [
        rng.permutation(by_class[starts[c] : starts[c + 1]])[: allocation[c]]
        for c in range(len(counts))
    ]
    return np.sort(np.concatenate(parts))


def _allocate(counts: np.ndarray, n_val: int, rng: np.random.Generator) -> np.ndarray:
    """Validation samples per class: proportional, largest remainder, one kept for training."""
    quota = counts * (n_val / counts.sum())
    cap = np.maximum(counts - 1, 0)
    allocation = np.minimum(np.floor(quota).astype(np.int64), cap)
    # Largest fractional part first; ties in a seeded random order, not by class index.
    tie_break = rng.permutation(len(counts))
    order = np.lexsort((tie_break, -(quota - np.floor(quota))))
    missing = n_val - int(allocation.sum())
    while missing > 0 and (allocation < cap).any():
        for c in order:
            if missing == 0:
                break
            if allocation[c] < cap[c]:
                allocation[c] += 1
                missing -= 1
    return allocation


def split_arrays(
    x: np.ndarray, y: np.ndarray, val_split: float, seed: int, source: str
) -> tuple[ArraySplit, ArraySplit]:
    """Split features and labels together; stratified when the labels are class labels."""
    strata = class_labels(y) if y.dtype.kind in "biu" or y.ndim == 2 else None
    train, val = split_indices(len(x), val_split, seed, source, strata)
    return (
        ArraySplit(aligned.take_rows(x, train), aligned.take_rows(y, train)),
        ArraySplit(aligned.take_rows(x, val), aligned.take_rows(y, val)),
    )
