"""A learning-rate schedule that has run its course is a finding, not a starting point.

A `CosineDecay` (with or without warmup) or a `PolynomialDecay` run to its `decay_steps` sits at
a rate of about 0 (`alpha * peak`, often exactly 0). Resuming from it trains nothing while
looking like a plateau, and any strategy that multiplies "the current rate" multiplies 0. So a
finished schedule is replaced, right after loading, by a constant rate at the schedule's peak
(the highest rate it reached: `initial_learning_rate`, or `warmup_target` with warmup), keeping
the optimizer's moments and step count; strategies then apply their factor to that peak. The
finding is said in the optimizer's detail, which the report and the console show.

The peak is measured, not read from one class's config: the schedule is evaluated at every
step up to the current one (sampled when there are many), so custom schedules work too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from plateau_cli.adapters.keras import optimizer as opt

#: A schedule whose current rate is below this share of its peak has finished.
FINISHED_SHARE = 1e-3
_SAMPLES = 512


@dataclass(frozen=True)
class FinishedSchedule:
    schedule: str
    step: int
    rate: float
    peak: float

    def describe(self) -> str:
        return (
            f"the {self.schedule} schedule has finished: lr {self.rate:.3g} at step {self.step}"
            f" (its peak was {self.peak:.3g}), so training from it would learn nothing; it is"
            f" replaced by a constant rate at the peak, {self.peak:.3g}, which strategies scale"
            " (moments and step count kept)"
        )


def _rate_at(schedule: Any, step: int) -> float:
    return float(keras.ops.convert_to_numpy(schedule(step)))


def finished(optimizer: Any) -> FinishedSchedule | None:
    """The finished schedule of `optimizer`, or None (a constant rate, a schedule still useful)."""
    if optimizer is None or opt.has_rate_variable(optimizer):
        return None
    # `optimizer.learning_rate` evaluates the schedule; Keras keeps the object itself here.
    schedule = getattr(optimizer, "_learning_rate", None)
    if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        return None
    step = int(optimizer.iterations)
    try:
        rate = _rate_at(schedule, step)
        steps = np.unique(np.linspace(0, step, min(step + 1, _SAMPLES)).astype(np.int64))
        peak = max(_rate_at(schedule, int(s)) for s in steps)
    except (TypeError, ValueError):  # a custom schedule that cannot be evaluated on its own
        return None
    if peak <= 0 or rate > FINISHED_SHARE * peak:
        return None
    return FinishedSchedule(type(schedule).__name__, step, opt.tidy(rate), opt.tidy(peak))


def replace_finished(model: Any) -> str | None:
    """Swap a finished schedule for its peak rate; the sentence to report, or None."""
    found = finished(getattr(model, "optimizer", None))
    if found is None:
        return None
    opt.set_rate(model, found.peak)
    return found.describe()
