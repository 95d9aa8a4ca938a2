import math

import pytest

from plateau_cli.errors import UsageError
from plateau_cli.monitor import Mode, Monitor


def test_mode_inferred_from_name():
    assert Monitor.for_metric("val_loss").mode is Mode.MIN
    assert Monitor.for_metric("val_accuracy").mode is Mode.MAX
    assert Monitor.for_metric("val_auc").mode is Mode.MAX
    assert Monitor.for_metric("val_mae").mode is Mode.MIN


@pytest.mark.parametrize(
    ("mode", "min_delta", "current", "reference", "expected"),
    [
        # Keras EarlyStopping: min mode improves when current < reference - min_delta
        (Mode.MIN, 0.0, 0.5, 0.6, True),
        (Mode.MIN, 0.0, 0.6, 0.6, False),  # equal is not an improvement
        (Mode.MIN, 0.1, 0.55, 0.6, False),  # better, but by less than min_delta
        (Mode.MIN, 0.1, 0.49, 0.6, True),
        (Mode.MAX, 0.0, 0.7, 0.6, True),
        (Mode.MAX, 0.05, 0.62, 0.6, False),
        (Mode.MAX, 0.05, 0.66, 0.6, True),
        (Mode.MIN, 0.0, 0.5, None, True),  # anything finite beats no reference
        (Mode.MIN, 0.0, math.nan, 0.6, False),  # NaN never improves
        (Mode.MIN, 0.0, 0.5, math.inf, True),
    ],
)
def test_is_improvement_matches_keras(mode, min_delta, current, reference, expected):
    assert Monitor("m", mode, min_delta).is_improvement(current, reference) is expected


def test_wait_counter_like_early_stopping():
    m = Monitor("val_loss", Mode.MIN, 0.01)
    # 1.0 -> 0.5 improves; 0.495 is within min_delta of the best: no improvement.
    values = [1.0, 0.5, 0.495, 0.494, 0.6]
    assert m.improvement_indices(values) == [0, 1]
    assert m.wait_after(values) == 3


def test_best_index_skips_non_finite():
    m = Monitor("val_accuracy", Mode.MAX)
    assert m.best_index([0.1, math.nan, 0.3, 0.3, 0.2]) == 2
    assert m.best_index([math.nan]) is None


def test_negative_min_delta_rejected():
    with pytest.raises(UsageError, match=r"min_delta=-0\.1"):
        Monitor("val_loss", Mode.MIN, -0.1)
