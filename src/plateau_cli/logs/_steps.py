"""Step-level series: keep them as steps, and derive per-epoch values where a log has no others.

A log that records the training loss only per step (Hugging Face without evaluation, Lightning's
`on_step=True`, TensorBoard per batch) still has an epoch per row. The per-epoch value is then
the mean of that epoch's logged steps, which is what Keras and Lightning report as the epoch's
training loss (a running mean over the epoch's batches). NaN or inf in a step makes that epoch's
mean non-finite, on purpose: divergence is a finding, not noise.
"""

from __future__ import annotations

import numpy as np

from plateau_cli.history import HistoryBuilder
from plateau_cli.names import canonical_name


def epoch_means(epochs: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct epochs (sorted) and the mean of the values logged in each."""
    unique, inverse = np.unique(np.asarray(epochs, dtype=np.int64), return_inverse=True)
    values = np.asarray(values, dtype=np.float64)
    sums = np.bincount(inverse, weights=values, minlength=unique.shape[0])
    counts = np.bincount(inverse, minlength=unique.shape[0])
    with np.errstate(invalid="ignore"):
        return unique, sums / counts


def one_based(epochs: np.ndarray) -> tuple[np.ndarray, bool]:
    """Epoch numbers from 1, as people read them: a log that counts from 0 is shifted."""
    epochs = np.asarray(epochs, dtype=np.int64)
    if epochs.size and int(epochs.min()) == 0:
        return epochs + 1, True
    return epochs, False


def strip_step_suffix(raw: str) -> str:
    """`train_loss_step` -> `train_loss` (Lightning's name for the per-step half of a metric)."""
    return raw[: -len("_step")] if raw.endswith("_step") and len(raw) > len("_step") else raw


def add_steps(
    builder: HistoryBuilder,
    raw: str,
    steps: np.ndarray,
    values: np.ndarray,
    epochs: np.ndarray | None,
    epoch_level: set[str],
) -> str | None:
    """Add a step-level series; when the log has no per-epoch values for this metric but says
    which epoch each step is in, add the per-epoch means too. Returns the canonical name when
    it derived them (the caller writes one note for all)."""
    name = strip_step_suffix(raw)
    builder.add_step_array(name, steps, values)
    canonical = canonical_name(name)
    if epochs is None or canonical in epoch_level:
        return None
    unique, means = epoch_means(epochs, values)
    builder.add_epoch_array(name, unique, means)
    return canonical


def derived_note(names: list[str]) -> str:
    return (
        f"{', '.join(names)}: logged per step only; per-epoch values are the mean of each"
        " epoch's logged steps"
    )


def steps_note(count: int) -> str:
    return f"step-level values ({count:,}) kept separately from the per-epoch series"
