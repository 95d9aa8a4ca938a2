"""What augment will do to this model's data, decided once for both frameworks.

The plan settles which transforms run (the user's, or the default set for the kind of input),
refuses the ones that make no sense for the input (a rotation of a 64-feature vector), holds the
training data's statistics the transforms are scaled by, and says it all in the report's words.
The per-framework modules (keras.py, torch.py) only carry the plan out, so Keras and PyTorch
augment with the same transforms, strengths and statistics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import numpy as np

from plateau_cli.errors import UsageError
from plateau_cli.strategies.augment.options import (
    BY_NAME,
    DEFAULT_IMAGE_SET,
    DEFAULT_VECTOR_SET,
    Applies,
    AugmentOptions,
    TransformSpec,
    show,
)

#: An epoch's augmented training loss below this share of the clean validation loss is "near
#: zero": the model still fits the augmented data perfectly, so its weights will barely move
#: (FINDINGS §3: noise at 0.3 of the spread left the training loss at 0.01 and val_loss as is).
TOO_WEAK_RATIO = 0.1
_CHUNK = 4096


class InputKind(str, Enum):
    IMAGE = "image"  # rank-3 samples
    VECTOR = "vector"  # anything else: features, sequences


@dataclass(frozen=True)
class FeatureStats:
    """Per-feature spread and the value range of the training inputs."""

    #: Standard deviation of each feature (the sample's shape); 0 where a feature never varies.
    std: np.ndarray
    low: float
    high: float
    #: Samples the figures come from: all training samples, or the first ones of a native
    #: dataset (a tf.data.Dataset or DataLoader is not read in full just for this).
    samples: int

    @classmethod
    def of(cls, x: np.ndarray) -> FeatureStats:
        """Chunked, in float64, shifted by the first chunk's mean (no cancellation), so a large
        image set costs no full float64 copy."""
        n = int(x.shape[0])
        if n == 0:
            raise UsageError("augment: the training data is empty; nothing to augment")
        shift = np.asarray(x[:_CHUNK], dtype=np.float64).mean(axis=0)
        total = np.zeros_like(shift)
        squares = np.zeros_like(shift)
        low = np.full_like(shift, np.inf)
        high = np.full_like(shift, -np.inf)
        for start in range(0, n, _CHUNK):
            chunk = np.asarray(x[start : start + _CHUNK], dtype=np.float64)
            centred = chunk - shift
            total += centred.sum(axis=0)
            squares += (centred * centred).sum(axis=0)
            low = np.minimum(low, chunk.min(axis=0))
            high = np.maximum(high, chunk.max(axis=0))
        mean = total / n
        std = np.sqrt(np.maximum(squares / n - mean * mean, 0.0))
        std[high == low] = 0.0  # constant features get no noise at all, not rounding error
        return cls(std.astype(np.float32), float(low.min()), float(high.max()), n)

    @property
    def value_range(self) -> tuple[float, float]:
        return self.low, self.high


@dataclass(frozen=True)
class Plan:
    kind: InputKind
    sample_shape: tuple[int, ...]
    transforms: tuple[TransformSpec, ...]
    #: True when the user named no transform and the default set for `kind` runs.
    defaulted: bool
    copies: int
    bake: bool
    #: Image layout of the batches the transform sees: HWC (True) or CHW (False).
    channels_last: bool
    stats: FeatureStats | None = None

    def value(self, name: str) -> Any:
        return next((spec.value for spec in self.transforms if spec.name == name), None)

    def has(self, name: str) -> bool:
        return any(spec.name == name for spec in self.transforms)

    @property
    def image_transforms(self) -> tuple[TransformSpec, ...]:
        return tuple(s for s in self.transforms if s.kind.applies is Applies.IMAGES)

    @property
    def needs_stats(self) -> bool:
        return self.has("noise") or self.has("contrast") or self.has("brightness")

    def with_stats(self, stats: FeatureStats) -> Plan:
        return replace(self, stats=stats)

    def details(self) -> list[dict[str, Any]]:
        """`details.transforms`: each transform with every parameter it runs with."""
        out = []
        for spec in self.transforms:
            entry: dict[str, Any] = {"name": spec.name, spec.kind.parameter: spec.value}
            if spec.name in ("contrast", "brightness") and self.stats is not None:
                entry["value_range"] = [self.stats.low, self.stats.high]
            if spec.name == "noise" and self.stats is not None:
                std = self.stats.std
                entry |= {
                    "features": int(std.size),
                    "features_without_noise": int((std == 0).sum()),
                    "mean_feature_std": float(std.mean()),
                    "std_from_samples": self.stats.samples,
                }
            if spec.kind.applies is Applies.IMAGES:
                entry["where"] = "model (baked)" if self.bake else "input pipeline"
            out.append(entry)
        return out

    def changes(self) -> list[str]:
        """One line per transform, then the copies, for the report's `changes`."""
        origin = f"default set for {self.kind.value} inputs" if self.defaulted else "as asked"
        lines = [f"augment training batches ({origin}); validation data is never augmented"]
        for spec, entry in zip(self.transforms, self.details(), strict=True):
            # Plain words for the report; every parameter stays in details.transforms.
            kind = BY_NAME[spec.name]
            constant = entry.get("features_without_noise", 0)
            skipped = (
                f"; {constant} of {entry['features']} features are constant and get none"
                if constant
                else ""
            )
            where = " (baked into the model)" if self.bake and "where" in entry else ""
            lines.append(f"  {spec.name}={_text(spec.value)}: {kind.help}{skipped}{where}")
        lines.append(f"{self.copies} augmented passes over the training data per epoch (--copies)")
        return lines


@dataclass(frozen=True)
class Applied:
    """What a framework module did with the plan."""

    #: The plan as carried out (with the training data's statistics filled in).
    plan: Plan
    #: Framework-specific changes for the report (--bake, how mixup's soft labels reach the loss).
    notes: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return str(value)


def make_plan(
    options: AugmentOptions, sample_shape: Iterable[int | None], channels_last: bool, framework: str
) -> Plan:
    """Choose the transforms for this input; refuse the ones that cannot apply, saying why."""
    shape = tuple(int(d) if d is not None else -1 for d in sample_shape)
    kind = InputKind.IMAGE if len(shape) == 3 else InputKind.VECTOR
    defaulted = not options.transforms
    if defaulted:
        names = DEFAULT_IMAGE_SET if kind is InputKind.IMAGE else DEFAULT_VECTOR_SET
        transforms = tuple(TransformSpec(n, BY_NAME[n].default) for n in names)
    else:
        transforms = options.transforms
    images = [s.name for s in transforms if s.kind.applies is Applies.IMAGES]
    if options.bake and framework != "keras":
        raise UsageError(
            "--bake is for Keras models: a torch checkpoint holds weights, not the forward code"
            " that would run the augmentation; drop --bake (the transforms still run in training)"
        )
    if images and kind is not InputKind.IMAGE:
        layout = "HWC" if framework == "keras" else "CHW"
        raise UsageError(
            f"--augment {','.join(images)}: image transforms need image inputs (samples of rank 3,"
            f" {layout}); this model takes samples of shape {_shape(shape)}. For vectors use"
            f" noise (--noise, default {show(BY_NAME['noise'].default)}) or mixup (--mixup)"
        )
    if options.bake and not images:
        raise UsageError(
            "--bake saves image transforms (Keras preprocessing layers) into the model; noise and"
            " mixup act on the input pipeline only. Drop --bake or add image transforms"
        )
    return Plan(kind, shape, transforms, defaulted, options.copies, options.bake, channels_last)


def _shape(shape: tuple[int, ...]) -> str:
    dims = ["None" if d < 0 else str(d) for d in shape]
    return f"({dims[0]},)" if len(dims) == 1 else "(" + ", ".join(dims) + ")"


@dataclass
class LossWatch(Mapping[str, Any]):
    """The clean training loss before augmenting, and the first augmented epoch's, side by side.

    A live mapping in the outcome's `details`: filled in after the first epoch (`observe`) and
    read when the report is written. A strategy that cannot lift the training loss off zero
    cannot change the model (FINDINGS §3), so this is the figure to check first.
    """

    clean_train_loss: float | None
    clean_val_loss: float | None
    augmented_train_loss: float | None = None
    too_weak: bool | None = None

    def observe(self, augmented: float) -> str | None:
        """Record epoch 1's augmented training loss; returns a warning when it stays near 0."""
        self.augmented_train_loss = augmented
        if self.clean_val_loss is None or not np.isfinite(augmented):
            return None
        self.too_weak = bool(augmented < TOO_WEAK_RATIO * self.clean_val_loss)
        if not self.too_weak:
            return None
        clean = f"{self.clean_train_loss:.4g}" if self.clean_train_loss is not None else "?"
        return (
            f"warning: the augmented training loss is {augmented:.4g} after epoch 1 (clean"
            f" {clean}, validation {self.clean_val_loss:.4g}): still near zero, so the"
            " augmentation is too weak to change the model; raise --noise or the transforms'"
            " strengths"
        )

    def _values(self) -> dict[str, Any]:
        return {
            "clean": self.clean_train_loss,
            "augmented_epoch_1": self.augmented_train_loss,
            "clean_val_loss": self.clean_val_loss,
            "too_weak": self.too_weak,
        }

    def __getitem__(self, key: str) -> Any:
        return self._values()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())

    def __len__(self) -> int:
        return len(self._values())
