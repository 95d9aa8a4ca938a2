"""The robust statistics under the detectors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plateau_cli.diagnose.series import (
    Trend,
    held,
    noise_sigma,
    rolling_median,
    tail_level,
    theil_sen,
    trend,
)


def test_rolling_median_ignores_a_single_outlier() -> None:
    values = np.array([1.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    assert rolling_median(values).tolist() == [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]


def test_held_takes_the_worse_of_each_epoch_and_the_next() -> None:
    values = np.array([3.0, 2.0, 1.0, 2.5, 2.4])
    assert held(values, higher_is_better=False).tolist() == [3.0, 2.0, 2.5, 2.5, 2.5]
    assert held(values, higher_is_better=True).tolist() == [2.0, 1.0, 1.0, 2.4, 2.4]


def test_held_hides_one_lucky_epoch() -> None:
    values = np.array([1.0, 1.0, 0.2, 1.0, 1.0])
    assert held(values, higher_is_better=False).min() == 1.0


def test_theil_sen_is_not_tilted_by_one_bad_epoch() -> None:
    values = 2.0 - 0.1 * np.arange(20)
    values[7] = 50.0
    assert theil_sen(values) == pytest.approx(-0.1)


def test_theil_sen_subsamples_long_series_and_keeps_the_slope() -> None:
    values = 3.0 * np.arange(5000, dtype=float)
    assert theil_sen(values) == pytest.approx(3.0)


def test_noise_sigma_ignores_a_linear_trend() -> None:
    rng = np.random.default_rng(0)
    values = 5.0 - 0.3 * np.arange(400) + rng.normal(0, 0.05, 400)
    assert noise_sigma(values) == pytest.approx(0.05, rel=0.15)


def test_trend_t_against_the_noise() -> None:
    rng = np.random.default_rng(1)
    sloped = trend(1.0 - 0.02 * np.arange(30) + rng.normal(0, 0.01, 30))
    flat = trend(1.0 + rng.normal(0, 0.01, 30))
    assert sloped.significant()
    assert sloped.t < -10
    assert not flat.significant()


def test_trend_of_a_constant_is_zero_and_of_a_clean_line_infinite() -> None:
    assert Trend(0.0, 0.0, 10).t == 0.0
    assert Trend(-0.5, 0.0, 10).t == -math.inf


def test_tail_level_is_the_median_of_the_last_three() -> None:
    assert tail_level(np.array([9.0, 1.0, 5.0, 2.0])) == 2.0
