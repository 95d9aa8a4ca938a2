"""Properties of the data that explain many plateaus, found in a second before any training.

Each check returns at most one `HealthWarning` with a fixed `id`, one sentence, and the numbers
behind it. Scale statistics come from a seeded sample of at most 10,000 rows (and about 8M
values), which pins a mean or a std far more tightly than the thresholds need and keeps the
whole check well under a second for 100k x 784 float32; the NaN/inf count and the duplicate
search look at every row. For a framework's own dataset object only its first batch is read,
so only the per-batch checks (non-finite, unnormalised) run, and the evidence says so. Text
features (a model that takes strings) skip the scale checks; duplicates compare the strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from plateau_cli.data.arrays import is_text
from plateau_cli.data.base import ArraySplit, DataBundle, HealthWarning, Task
from plateau_cli.data.duplicates import rows_found_in
from plateau_cli.data.fit import first_batch, input_rank
from plateau_cli.data.task import class_labels, infer_task

if TYPE_CHECKING:
    from plateau_cli.adapters.base import IOSpec

#: Per-feature |mean| or std above this is "far from unit scale" (raw pixels, dollars, Kelvin).
LARGE_SCALE = 10.0
#: Every value within +-this looks scaled twice (0..1 divided by 255 again).
TINY_SCALE = 0.01
#: Train/val std ratio outside [1/x, x] means the splits were scaled differently.
STD_RATIO = 2.0
#: A train/val mean shift beyond this many train stds (noise-corrected) means the same.
MEAN_SHIFT = 0.5
#: The per-feature median shift that flags a mismatch hidden among differently scaled features.
FEATURE_SHIFT = 1.0
#: Fewer validation rows than this make the mean/std comparison noise.
MIN_ROWS_TO_COMPARE = 20
#: Majority/minority class count ratio that counts as imbalance.
IMBALANCE_RATIO = 3.0
#: Share of validation samples found in training that is worth a warning.
DUPLICATE_SHARE = 0.01

_SAMPLE_ROWS = 10_000
_SAMPLE_VALUES = 8_000_000


def data_health(data: DataBundle, io: IOSpec | None) -> list[HealthWarning]:
    """Warnings in order of severity; an empty list when nothing looks wrong."""
    if data.is_arrays:
        train, val, partial = data.train, data.val, False
    else:
        batch = first_batch(data.train, input_rank(io), data.source, "training")
        if batch is None or len(batch) == 0:
            return []
        train, val, partial = batch, None, True
    if train.is_multi:
        from plateau_cli.data.health_named import named_health

        return named_health(data, train, val, io, partial)
    if len(train) == 0:
        return []  # check_fit refuses empty splits; nothing to measure here
    if val is not None and len(val) == 0:
        val = None
    found = [_non_finite(train, val, partial)]
    if not is_text(train.x):  # text has no scale: the numeric checks do not apply
        rng = np.random.default_rng(0)
        seen = _model_view(io)
        train_stats = _Stats.of(train.x, rng, seen)
        val_stats = _Stats.of(val.x, rng, seen) if val is not None else None
        token_ids = io is not None and io.integer_inputs
        found += [
            _scale_mismatch(train_stats, val_stats) if val_stats is not None else None,
            None if token_ids else _unnormalised(train_stats, data, partial),
        ]
    found += [
        _imbalance(train.y, val.y, io, data.class_names) if val is not None else None,
        _duplicates(train.x, val.x) if val is not None else None,
    ]
    return [w for w in found if w is not None]


@dataclass(frozen=True)
class _Stats:
    """A seeded sample of rows (flattened to features) and its per-feature mean and std."""

    values: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def of(
        cls, x: np.ndarray, rng: np.random.Generator, seen: Callable[[Any], Any] | None = None
    ) -> _Stats:
        features = int(np.prod(x.shape[1:])) if x.ndim > 1 else 1
        rows = min(_SAMPLE_ROWS, max(256, _SAMPLE_VALUES // max(features, 1)))
        if len(x) > rows:
            x = x[np.sort(rng.choice(len(x), rows, replace=False))]
        if seen is not None:
            x = seen(x)
        flat = np.asarray(x).reshape(len(x), -1)
        return cls(flat, *_column_stats(flat))


def _model_view(io: IOSpec | None) -> Callable[[Any], Any] | None:
    """The model's own leading preprocessing (Rescaling, Normalization), when it has any: the
    scale checks judge what its first trainable layer sees, not the raw arrays. Numeric
    arrays only; a failure leaves the raw view (the data check reports real mismatches)."""
    if io is None or io.preprocess is None:
        return None
    preprocess = io.preprocess

    def seen(x: Any) -> Any:
        if not np.issubdtype(np.asarray(x).dtype, np.number):
            return x
        try:
            out = np.asarray(preprocess(x), dtype=np.float64)
        except Exception:  # a health view never stops the run
            return x
        return out if len(out) == len(x) else x

    return seen


def _column_stats(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std over the finite values (NaN/inf are reported elsewhere)."""
    finite = np.isfinite(sample)
    if finite.all():
        return sample.mean(axis=0, dtype=np.float64), sample.std(axis=0, dtype=np.float64)
    count = np.maximum(finite.sum(axis=0), 1)
    clean = np.where(finite, sample, 0).astype(np.float64)
    mean = clean.sum(axis=0) / count
    var = np.where(finite, (clean - mean) ** 2, 0).sum(axis=0) / count
    return mean, np.sqrt(var)


def _pooled(mean: np.ndarray, std: np.ndarray) -> tuple[float, float]:
    """Mean and std of all values together, from per-feature moments."""
    overall = float(mean.mean())
    return overall, float(np.sqrt(max(float((std**2 + mean**2).mean()) - overall**2, 0.0)))


def _non_finite(train: ArraySplit, val: ArraySplit | None, partial: bool) -> HealthWarning | None:
    arrays = {"x_train": train.x, "y_train": train.y}
    if val is not None:
        arrays |= {"x_val": val.x, "y_val": val.y}
    evidence: dict[str, Any] = {}
    for name, array in arrays.items():
        if array.dtype.kind != "f":
            continue
        nan = int(np.count_nonzero(np.isnan(array)))
        inf = int(np.count_nonzero(np.isinf(array)))
        if nan or inf:
            evidence[name] = {"nan": nan, "inf": inf}
    if not evidence:
        return None
    where = ", ".join(f"{name} ({c['nan']} NaN, {c['inf']} inf)" for name, c in evidence.items())
    if partial:
        evidence["first_batch_only"] = True
    return HealthWarning(
        "non-finite",
        f"The data holds NaN or infinite values: {where}; a single one turns the loss into NaN."
        " Fill or drop them.",
        evidence,
    )


def _unnormalised(stats: _Stats, data: DataBundle, partial: bool) -> HealthWarning | None:
    sample, mean, std = stats.values, stats.mean, stats.std
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return None
    low, high = float(finite.min()), float(finite.max())
    overall_mean, overall_std = _pooled(mean, std)
    large = np.flatnonzero((np.abs(mean) > LARGE_SCALE) | (std > LARGE_SCALE))
    evidence: dict[str, Any] = {
        "min": low,
        "max": high,
        "mean": overall_mean,
        "std": overall_std,
        "features": int(sample.shape[1]),
        "large_features": int(large.size),
        "stored_dtype": data.source_dtype,
    }
    if partial:
        evidence |= {"first_batch_only": True, "samples": len(sample)}
    # Raw 8-bit images reach well past 127 somewhere; 0..16 digits or counts are not pixels.
    pixel_like = (
        low >= 0
        and 127 < high <= 255
        and (data.source_dtype == "uint8" or bool(np.array_equal(finite, np.round(finite))))
    )
    if large.size and pixel_like:
        evidence["pixel_like"] = True
        text = (
            f"Inputs range {low:g}..{high:g} like raw pixel values"
            f"{f' (stored as {data.source_dtype})' if data.source_dtype else ''}; models"
            " usually expect 0..1: divide by 255 as the training pipeline did."
        )
    elif large.size:
        worst = int(large[np.argmax(np.maximum(np.abs(mean[large]), std[large]))])
        named = data.feature_names is not None and worst < len(data.feature_names)
        label = data.feature_names[worst] if data.feature_names and named else f"#{worst}"
        name = repr(label) if named else f"feature {label}"
        evidence |= {
            "worst_feature": label,
            "worst_mean": float(mean[worst]),
            "worst_std": float(std[worst]),
        }
        text = (
            f"{large.size} of {sample.shape[1]} input features are far from unit scale (largest:"
            f" {name}, mean {mean[worst]:.3g}, std {std[worst]:.3g}); standardise them (subtract"
            " the training mean, divide by the std) as the training pipeline did."
        )
    elif 0 < max(abs(low), abs(high)) <= TINY_SCALE:
        text = (
            f"All inputs lie within +-{max(abs(low), abs(high)):.2g} (std {overall_std:.2g}):"
            " they look scaled twice, e.g. divided by 255 two times."
        )
    else:
        return None
    return HealthWarning("unnormalised-inputs", text, evidence)


def _scale_mismatch(train: _Stats, val: _Stats) -> HealthWarning | None:
    rows_t, rows_v = len(train.values), len(val.values)
    if train.values.shape[1:] != val.values.shape[1:] or min(rows_t, rows_v) < MIN_ROWS_TO_COMPARE:
        return None
    mean_t, std_t, mean_v, std_v = train.mean, train.std, val.mean, val.std
    typical_var = float((std_t**2).mean())
    if typical_var == 0:
        return None
    std_ratio = float(np.sqrt((std_v**2).mean() / typical_var))
    noise = 1 / rows_t + 1 / rows_v  # the squared shift sampling alone produces
    shift_sq = float(((mean_v - mean_t) ** 2).mean()) / typical_var
    mean_shift = float(np.sqrt(max(shift_sq - noise, 0.0)))
    positive = std_t[std_t > 0]
    usable = std_t >= 0.1 * float(np.median(positive)) if positive.size else std_t > 0
    feature_shift = float(np.median(np.abs(mean_v - mean_t)[usable] / std_t[usable]))
    feature_ratio = float(np.median(std_v[usable] / std_t[usable]))
    mismatch = (
        not 1 / STD_RATIO <= std_ratio <= STD_RATIO
        or mean_shift > MEAN_SHIFT
        or feature_shift > FEATURE_SHIFT
        or not 1 / STD_RATIO <= feature_ratio <= STD_RATIO
    )
    if not mismatch:
        return None
    (tm, ts), (vm, vs) = _pooled(mean_t, std_t), _pooled(mean_v, std_v)
    return HealthWarning(
        "scale-mismatch",
        f"Validation inputs are scaled differently from training (mean {vm:.3g} vs {tm:.3g},"
        f" std {vs:.3g} vs {ts:.3g}); preprocess both splits the same way, or the model is"
        " judged on inputs it never saw.",
        {
            "train_mean": tm,
            "train_std": ts,
            "val_mean": vm,
            "val_std": vs,
            "std_ratio": std_ratio,
            "mean_shift_in_train_stds": mean_shift,
            "median_feature_shift": feature_shift,
            "median_feature_std_ratio": feature_ratio,
            "features_compared": int(np.count_nonzero(usable)),
        },
    )


def _imbalance(
    y_train: np.ndarray,
    y_val: np.ndarray,
    io: IOSpec | None,
    class_names: tuple[str, ...] | None,
) -> HealthWarning | None:
    task = infer_task(y_train, io)
    labels = class_labels(y_train)
    if task not in (Task.CLASSIFICATION, Task.BINARY) or labels is None or labels.size == 0:
        return None
    if labels.min() < 0:
        return None  # check_fit refuses these; nothing to count
    units = io.output_units if io is not None and task is Task.CLASSIFICATION else None
    n_classes = max(int(labels.max()) + 1, units or 0, 2)
    counts = np.bincount(labels, minlength=n_classes)
    major, minor = int(np.argmax(counts)), int(np.argmin(counts))
    missing = int(np.count_nonzero(counts == 0))
    ratio = counts[major] / counts[minor] if counts[minor] else None
    if ratio is not None and ratio < IMBALANCE_RATIO:
        return None

    def name(index: int) -> str:
        return class_names[index] if class_names and index < len(class_names) else str(index)

    val_labels = class_labels(y_val)
    share = counts[major] / labels.size
    baseline = float(np.mean(val_labels == major)) if val_labels is not None else float(share)
    versus = (
        f"{ratio:.1f}x the rarest class, {name(minor)}"
        if ratio is not None
        else f"{missing} of {n_classes} classes have no training samples"
    )
    return HealthWarning(
        "class-imbalance",
        f"Class {name(major)} makes up {share:.0%} of the training labels ({versus}); always"
        f" predicting it scores {baseline:.0%} accuracy on validation.",
        {
            "classes": n_classes,
            "majority_class": name(major),
            "majority_share": float(share),
            "minority_class": name(minor),
            "minority_share": float(counts[minor] / labels.size),
            "imbalance_ratio": float(ratio) if ratio is not None else None,
            "missing_classes": missing,
            "majority_baseline_accuracy": baseline,
        },
    )


def _duplicates(x_train: np.ndarray, x_val: np.ndarray) -> HealthWarning | None:
    if is_text(x_train) and is_text(x_val) and x_train.dtype.kind == x_val.dtype.kind:
        # Strings compare by bytes only at one width: "cat" as <U3 and as <U9 differ in padding.
        width = np.result_type(x_train.dtype, x_val.dtype)
        x_train, x_val = x_train.astype(width), x_val.astype(width)
    if x_train.shape[1:] != x_val.shape[1:] or x_train.dtype != x_val.dtype or not len(x_val):
        return None
    count = int(np.count_nonzero(rows_found_in(x_val, x_train)))
    share = count / len(x_val)
    if count == 0 or share < DUPLICATE_SHARE:
        return None
    return HealthWarning(
        "duplicates",
        f"{count} validation samples ({share:.1%}) also appear, identical, in the training set;"
        " validation metrics overstate how well the model generalises.",
        {"count": count, "share": share, "val_samples": len(x_val)},
    )
