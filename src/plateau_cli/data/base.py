"""Training data as the core sees it, whatever it was read from.

Readers return numpy arrays (`ArraySplit`) so the health checks, the fit checks and augment's
vector transforms stay framework-neutral. A Python entry point may instead return the
framework's own objects (a `tf.data.Dataset`, a torch `DataLoader`); those pass through to the
adapter untouched, and the checks that need arrays look at a first batch only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np


class Task(str, Enum):
    CLASSIFICATION = "classification"  # integer labels (or one-hot) over C > 2 classes
    BINARY = "binary"  # one sigmoid output, labels 0/1
    REGRESSION = "regression"


@dataclass(frozen=True)
class ArraySplit:
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True)
class DataBundle:
    """Train and validation data plus where it came from."""

    train: ArraySplit | Any
    val: ArraySplit | Any
    #: "npz", "csv", "image-folder" or "entry-point".
    format: str
    #: The --data value as the user gave it.
    source: str
    class_names: tuple[str, ...] | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_arrays(self) -> bool:
        return isinstance(self.train, ArraySplit) and isinstance(self.val, ArraySplit)


@dataclass(frozen=True)
class DataSpec:
    """What `--data` and its companion options asked for, checked before any framework loads."""

    source: str
    target: str | None = None
    val_split: float | None = None
    seed: int = 0
