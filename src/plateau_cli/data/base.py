"""Training data as the core sees it, whatever it was read from.

Readers return numpy arrays (`ArraySplit`) so the health checks, the fit checks and augment's
vector transforms stay framework-neutral. A Python entry point may instead return the
framework's own objects (a `tf.data.Dataset`, a torch `DataLoader`); those pass through to the
adapter untouched, and the checks that need arrays look at a first batch only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from plateau_cli.data import aligned


class Task(str, Enum):
    CLASSIFICATION = "classification"  # integer labels (or one-hot) over C > 2 classes
    BINARY = "binary"  # one sigmoid output, labels 0/1
    REGRESSION = "regression"


#: One array, or one array per named input/output of a multi-input or multi-output model.
Arrays = np.ndarray | Mapping[str, np.ndarray]


@dataclass(frozen=True)
class ArraySplit:
    """Features and labels of one split. For a Keras model with several named inputs or
    outputs, `x` and/or `y` are dicts keyed by those names (the structure `model.fit` takes);
    every array of a split has the same number of rows."""

    x: Arrays
    y: Arrays

    def __len__(self) -> int:
        return rows_of(self.x)

    @property
    def is_multi(self) -> bool:
        """Whether `x` or `y` is a dict of named arrays."""
        return isinstance(self.x, Mapping) or isinstance(self.y, Mapping)

    def take(self, rows: np.ndarray) -> ArraySplit:
        """The split restricted to `rows` (indices), dicts indexed array by array."""
        return ArraySplit(take_rows(self.x, rows), take_rows(self.y, rows))


def rows_of(arrays: Arrays) -> int:
    """Samples in one array or in a dict of arrays (its first; check_fit makes them agree)."""
    if isinstance(arrays, Mapping):
        return int(next(iter(arrays.values())).shape[0]) if arrays else 0
    return int(arrays.shape[0])


def take_rows(arrays: Arrays, rows: np.ndarray) -> Arrays:
    """`arrays[rows]`, array by array, into aligned memory a framework can share without a
    copy (data/aligned.py)."""
    if isinstance(arrays, Mapping):
        return {name: aligned.take_rows(array, rows) for name, array in arrays.items()}
    return aligned.take_rows(arrays, rows)


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
    #: Column names of the features (CSV), for messages that can name a column.
    feature_names: tuple[str, ...] | None = None
    #: The features' dtype as stored before the conversion to float32 ("uint8" for raw pixels).
    source_dtype: str | None = None
    #: "NHWC" when `x` holds images the reader laid out channels-last (image folders): an adapter
    #: for an NCHW model transposes them. None: arrays exactly as the user gave them.
    image_layout: str | None = None
    #: The framework whose own objects `train`/`val` are ("tensorflow", "torch"), for entry
    #: points that return a tf.data.Dataset or a DataLoader; None for arrays.
    framework: str | None = None

    @property
    def is_arrays(self) -> bool:
        return isinstance(self.train, ArraySplit) and isinstance(self.val, ArraySplit)

    @property
    def is_multi(self) -> bool:
        """Arrays keyed by input/output name (a multi-input or multi-output Keras model)."""
        return self.is_arrays and (self.train.is_multi or self.val.is_multi)


@dataclass(frozen=True)
class DataSpec:
    """What `--data` and its companion options asked for, checked before any framework loads."""

    source: str
    target: str | None = None
    val_split: float | None = None
    seed: int = 0
    #: "npz", "csv", "image-folder" or "entry-point"; set by `parse_data_spec`.
    kind: str | None = None


@dataclass(frozen=True)
class HealthWarning:
    """A property of the data that can explain a plateau, found before any training."""

    #: A fixed slug scripts can branch on: class-imbalance, unnormalised-inputs, scale-mismatch,
    #: non-finite, duplicates.
    id: str
    #: One sentence for a person.
    text: str
    #: The numbers behind it, so a person can check the warning.
    evidence: Mapping[str, Any] = field(default_factory=dict)
