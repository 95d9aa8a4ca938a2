"""Judge a run on balanced accuracy when the classes are imbalanced, whatever its strategy.

`trial` ranks every candidate on one metric. On a 9:1 split validation loss rewards betting on
the majority, so rebalance (judged on balanced accuracy in its own report) would lose a race
judged on loss even when it is the only candidate that learns the rare class. With
`ResumeRequest.judge_balanced`, a run whose training labels are imbalanced (the data health
check's ratio) measures validation balanced accuracy after every epoch and is monitored,
restored and judged on it, so every candidate of a race is ranked on the same fair yardstick.
Balanced classes, regression targets and framework datasets leave the run as it was.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from plateau_cli.adapters.base import ModelHandle
from plateau_cli.data.base import DataBundle
from plateau_cli.strategies.rebalance import METRIC, surgery_for
from plateau_cli.strategies.rebalance.balance import IMBALANCED, balanced, imbalance_ratio


class BalancedJudge:
    """Validation balanced accuracy of the model as it stands, on demand."""

    def __init__(self, handle: ModelHandle, val: Any, classes: int, ratio: float) -> None:
        self.handle, self.val, self.classes, self.ratio = handle, val, classes, ratio

    @classmethod
    def for_run(cls, handle: ModelHandle, data: DataBundle, prepared: Any) -> BalancedJudge | None:
        """A judge if the training labels are imbalanced classes of one output, else None."""
        from plateau_cli.data.task import class_labels

        if not data.is_arrays or data.is_multi or handle.io_spec().is_multi:
            return None
        labels = class_labels(np.asarray(data.train.y))
        if labels is None:
            return None
        ratio = imbalance_ratio(labels)
        if ratio < IMBALANCED:
            return None
        classes = max(int(labels.max()) + 1, handle.io_spec().output_units or 0, 2)
        return cls(handle, prepared.val, classes, ratio)

    def measure(self) -> float:
        truth, predicted = surgery_for(self.handle).predicted(self.handle, self.val)
        return balanced(truth, predicted, self.classes).balanced_accuracy

    def metrics(self) -> dict[str, float]:
        return {METRIC: self.measure()}

    @property
    def note(self) -> str:
        return (
            f"the classes are imbalanced ({self.ratio:.1f}:1): monitored, restored and judged on"
            f" {METRIC}, since validation loss rewards betting on the majority"
        )
