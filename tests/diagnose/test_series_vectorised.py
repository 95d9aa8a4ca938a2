"""The vectorised series helpers give exactly what the per-element loops they replaced gave."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from plateau_cli.diagnose.series import (
    best_position,
    centered_median,
    improvement_positions,
    wait_after,
    window_medians,
)
from plateau_cli.monitor import Mode, Monitor

values = st.lists(
    st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(float("nan")), st.just(float("inf"))),
    min_size=0,
    max_size=40,
)


def _centered_loop(x: np.ndarray, width: int = 5) -> np.ndarray:
    half = width // 2
    n = x.shape[0]
    return np.array([np.median(x[max(0, t - half) : min(n, t + half + 1)]) for t in range(n)])


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=40), st.sampled_from([1, 3, 5]))
def test_centered_median_matches_the_loop(xs, width):
    x = np.asarray(xs, dtype=float)
    assert np.array_equal(centered_median(x, width), _centered_loop(x, width))


@given(values, st.sampled_from([Mode.MIN, Mode.MAX]), st.sampled_from([0.0, 0.01, 5.0]))
def test_positions_match_the_monitor(xs, mode, min_delta):
    monitor = Monitor("m", mode, min_delta)
    x = np.asarray(xs, dtype=float)
    higher = mode is Mode.MAX
    assert improvement_positions(x, higher, min_delta) == monitor.improvement_indices(xs)
    assert wait_after(x, higher, min_delta) == monitor.wait_after(xs)
    assert best_position(x, higher) == monitor.best_index(xs)


def test_a_million_points_in_one_call():
    x = np.cumsum(np.random.default_rng(0).normal(0, 1, 1_000_000))
    assert centered_median(x).shape == x.shape
    assert improvement_positions(x, False, 0.0)[0] == 0


@given(values, st.integers(1, 9))
def test_window_medians_match_numpy(xs, width):
    x = np.asarray(xs, dtype=float)
    if x.shape[0] < width:
        return
    expected = np.median(np.lib.stride_tricks.sliding_window_view(x, width), axis=1)
    assert np.array_equal(window_medians(x, width), expected, equal_nan=True)
