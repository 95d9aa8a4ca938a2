"""The baseline-against-log check: tolerances on losses and bounded metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plateau_cli.errors import DataMismatchError
from plateau_cli.history import RunHistory, Series
from plateau_cli.run.log_baseline import check_baseline


def _history(name: str, values: list[float]) -> RunHistory:
    index = np.arange(1, len(values) + 1)
    return RunHistory({name: Series(name, name, index, np.asarray(values, dtype=float))})


def test_a_loss_near_the_last_value_agrees():
    history = _history("val_loss", [2.0, 1.9, 1.84])
    agreed = check_baseline(history, Path("log.csv"), {"val_loss": 1.9}, "val_loss", None)
    assert agreed is not None
    assert agreed.last == pytest.approx(1.84)
    assert "agrees" in agreed.note()


def test_a_loss_far_from_last_and_best_is_refused_with_both_numbers():
    history = _history("val_loss", [2.0, 1.9, 1.84])
    with pytest.raises(DataMismatchError) as caught:
        check_baseline(history, Path("log.csv"), {"val_loss": 3.26}, "val_loss", "0..255")
    assert "3.26" in caught.value.message
    assert "1.84" in caught.value.message
    assert "0..255" in caught.value.message


def test_the_best_epoch_counts_for_save_best_only_checkpoints():
    history = _history("val_loss", [2.0, 1.0, 1.6])
    agreed = check_baseline(history, Path("l"), {"val_loss": 1.02}, "val_loss", None)
    assert agreed is not None


def test_bounded_metrics_use_an_absolute_tolerance():
    history = _history("val_accuracy", [0.30, 0.35])
    ok = {"val_accuracy": 0.40}
    assert check_baseline(history, Path("l"), ok, "val_accuracy", None) is not None
    with pytest.raises(DataMismatchError):
        check_baseline(history, Path("l"), {"val_accuracy": 0.10}, "val_accuracy", None)


def test_nothing_to_compare_is_no_finding():
    history = _history("loss", [1.0])
    assert check_baseline(history, Path("l"), {"val_loss": 9.0}, "val_loss", None) is None
