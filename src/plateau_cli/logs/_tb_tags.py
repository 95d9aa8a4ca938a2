"""TensorBoard tags to metric names, and whether each is logged per epoch or per step.

Tags follow conventions, not a schema: Keras writes `epoch_loss` (step = epoch index from 0) and
`batch_loss` (step = batch count) under `train/` and `validation/`; torch users write
`Loss/train`, `train/loss`, `val/accuracy`, `loss/epoch`. A tag's role word (train, val...)
becomes the `val_` prefix, a level word (epoch, step, batch) decides the level, and tags that say
neither are decided by how many points they have (`decide_levels`).
"""

from __future__ import annotations

import re

import numpy as np

_VAL = {"val", "valid", "validation", "eval", "evaluation", "dev", "test"}
_TRAIN = {"train", "training"}
_EPOCH = {"epoch", "epochs", "per_epoch", "epoch_end"}
_STEP = {"step", "steps", "batch", "batches", "iter", "iteration", "iterations", "per_step"}
_VS_ITERATIONS = re.compile(r"^evaluation_(.+)_vs_iterations$")

EPOCH, STEP = "epoch", "step"


def classify(part: str, tag: str) -> tuple[str, str | None, bool]:
    """(metric name, "epoch" | "step" | None when undecided, zero_based) for one tag."""
    role = "val" if part in _VAL else ""
    match = _VS_ITERATIONS.match(tag)
    if match:  # Keras: validation metric against the training step count
        return f"val_{match.group(1)}", STEP, False
    level: str | None = None
    keras_epoch = False
    words: list[str] = []
    for piece in re.split(r"[/:]", tag):
        lowered = piece.strip().lower()
        if lowered in _VAL:
            role = "val"
        elif lowered in _TRAIN:
            role = role or "train"
        elif lowered in _EPOCH:
            level = EPOCH
        elif lowered in _STEP:
            level = STEP
        elif lowered.startswith("epoch_") and len(lowered) > len("epoch_"):
            level, keras_epoch = EPOCH, True
            words.append(piece.strip()[len("epoch_") :])
        elif lowered.startswith("batch_") and len(lowered) > len("batch_"):
            level = STEP
            words.append(piece.strip()[len("batch_") :])
        elif lowered:
            words.append(piece.strip())
    name = "_".join(words) or tag
    if role == "val" and not name.lower().startswith(("val", "eval")):
        name = f"val_{name}"
    return name, level, keras_epoch


def decide_levels(counts: dict[str, int], epoch_count: int | None) -> dict[str, str]:
    """Levels for undecided tags, by their number of distinct steps: a per-step tag has many
    times more points than a per-epoch one (`epoch_count`: points of the tags known to be
    per-epoch). With nothing to compare against, a tag is per-epoch."""
    if not counts:
        return {}
    fewest = min([*counts.values(), *([epoch_count] if epoch_count else [])])
    return {tag: STEP if count > 2 * fewest else EPOCH for tag, count in counts.items()}


def epoch_numbering(steps: np.ndarray) -> tuple[np.ndarray, int, str | None]:
    """How the steps of per-epoch tags (all of them together) become epoch numbers from 1:
    (the distinct steps, the offset to add or -1 to number them in order, a note)."""
    unique = np.unique(steps)
    if unique.size == 0 or (unique[0] >= 0 and unique[-1] <= unique.size):
        return unique, int(unique.size and unique[0] == 0), None
    note = "per-epoch values logged at global steps: numbered as epochs 1, 2, ... in order"
    return unique, -1, note


def to_epochs(steps: np.ndarray, unique: np.ndarray, offset: int) -> np.ndarray:
    if offset >= 0:
        return steps + offset
    return np.searchsorted(unique, steps) + 1
