"""Is the data fed as in training? The baseline against the training log's validation values.

The checkpoint evaluated on the user's validation data should score about what the training log
says it scored on the last epoch (or on its best epoch: `ModelCheckpoint(save_best_only=True)`
keeps that one). A baseline far from both means the inputs differ from training: images scaled
0..1 where the model was trained on 0..255 (or the reverse), other features, other labels.
Training on such data teaches the model the wrong inputs and reports a meaningless
"improvement", so the run stops before any training with exit 2.

The tolerance: a loss may differ by 25% of the log's value (and at least 0.05), a bounded metric
(accuracy, AUC, in [0, 1]) by 0.1. Both are several standard errors of a mean over a validation
sample of a few hundred examples (a per-example cross-entropy has a std of about the mean, so
its mean over 200 examples varies by about 7%; an accuracy near 0.5 over 200 examples by
0.035), which a different split of the same data shows, while a wrong input scale moves the
loss by a factor (1.84 -> 3.26 for a Rescaling MobileNetV2 fed 0..1 instead of 0..255).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from plateau_cli.errors import DataMismatchError
from plateau_cli.history import RunHistory

#: Relative and absolute tolerance for an unbounded metric (a loss, an error).
LOSS_RATIO = 0.25
LOSS_ABSOLUTE = 0.05
#: Absolute tolerance for a metric in [0, 1] (accuracy, AUC, precision).
BOUNDED_ABSOLUTE = 0.1


@dataclass(frozen=True)
class LogBaseline:
    """What the check compared, for the report's notes."""

    metric: str
    baseline: float
    last: float
    last_epoch: int
    best: float

    def note(self) -> str:
        return (
            f"baseline {self.metric} {self.baseline:.4g} agrees with the log's last value"
            f" {self.last:.4g} (epoch {self.last_epoch}): the data is fed as in training"
        )


def _bounded(values: list[float]) -> bool:
    return all(0.0 <= v <= 1.0 for v in values)


def _far(value: float, reference: float, bounded: bool) -> bool:
    if bounded:
        return abs(value - reference) > BOUNDED_ABSOLUTE
    return abs(value - reference) > max(LOSS_RATIO * abs(reference), LOSS_ABSOLUTE)


def check_baseline(
    history: RunHistory,
    log: Path,
    baseline_val: Mapping[str, float],
    preferred: str,
    fed: str | None,
) -> LogBaseline | None:
    """Raise DataMismatchError when the baseline is far from the log; None when nothing to
    compare (the log has no validation metric the model reports)."""
    names = [preferred, "val_loss", *sorted(baseline_val)]
    metric = next((m for m in names if m in baseline_val and m in history.epochs), None)
    if metric is None:
        return None
    series = history.epochs[metric]
    values = [float(v) for v in series.values]
    if not values:
        return None
    last, last_epoch = values[-1], int(series.index[-1])
    higher = "acc" in metric or "auc" in metric or "precision" in metric or "recall" in metric
    best = max(values) if higher else min(values)
    value = float(baseline_val[metric])
    bounded = _bounded([*values, value])
    if not (_far(value, last, bounded) and _far(value, best, bounded)):
        return LogBaseline(metric, value, last, last_epoch, best)
    how = f" ({fed})" if fed else ""
    raise DataMismatchError(
        f"the checkpoint scores {metric} {value:.4g} on this data but {last:.4g} on the last epoch"
        f" of {log.name} (epoch {last_epoch}; best {best:.4g}): the data is not fed as in"
        f" training{how}; feed it as the training pipeline did (e.g. --data module:function"
        " returning the arrays the model was trained on), or drop --log to resume anyway"
    )
