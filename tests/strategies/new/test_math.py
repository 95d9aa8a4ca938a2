"""The new strategies' arithmetic, framework-free: range-test curve, class weights and
balanced accuracy, the normalisation fold, revive's zero-out (function preservation asserted
numerically), and option validation before any framework loads."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plateau_cli.errors import UsageError
from plateau_cli.strategies import build_strategy
from plateau_cli.strategies.lr_find import curve
from plateau_cli.strategies.lr_find.options import LrFindOptions, Pick
from plateau_cli.strategies.normalize.fold import fold, statistics, unfold
from plateau_cli.strategies.rebalance.balance import balanced, class_weights, labels_from_outputs
from plateau_cli.strategies.rebalance.options import Smoothing
from plateau_cli.strategies.revive.arithmetic import consumer_inputs, revive_arrays


def test_rates_are_log_spaced_from_start_to_end() -> None:
    lrs = curve.rates(1e-4, 1.0, 5)
    assert lrs[0] == pytest.approx(1e-4)
    assert lrs[-1] == pytest.approx(1.0)
    assert np.allclose(np.diff(np.log10(lrs)), 1.0)


def test_smoothing_is_bias_corrected() -> None:
    assert curve.smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])


def test_min10_picks_a_tenth_of_the_lowest_point() -> None:
    lrs = curve.rates(1e-5, 10.0, 61)
    # a U-shaped curve in log(lr) with its minimum at lr 0.1
    losses = [1.0 + (math.log10(lr) + 1) ** 2 / 10 for lr in lrs]
    s = curve.suggest(lrs, losses, Pick.MIN10)
    assert s is not None
    assert s.min_lr == pytest.approx(0.1, rel=0.05)
    assert s.lr == pytest.approx(0.01, rel=0.05)
    steep = curve.suggest(lrs, losses, Pick.STEEPEST)
    assert steep is not None
    assert steep.lr < s.min_lr


def test_a_flat_or_rising_curve_suggests_nothing() -> None:
    lrs = curve.rates(1e-5, 10.0, 30)
    assert curve.suggest(lrs, [1.0] * 30, Pick.MIN10) is None
    assert curve.suggest(lrs, [1.0 + i for i in range(30)], Pick.MIN10) is None


def test_the_test_stops_at_divergence() -> None:
    assert curve.should_stop([1.0] * 6 + [5.0], 5.0)
    assert curve.should_stop([1.0], float("nan"))
    assert not curve.should_stop([1.0] * 7, 1.0)


def test_lr_find_options_validate_before_any_framework() -> None:
    with pytest.raises(UsageError, match="--steps"):
        build_strategy("lr-find", {"steps": 3})
    with pytest.raises(UsageError, match="10x"):
        LrFindOptions(start_lr=1e-3, end_lr=5e-3)
    with pytest.raises(UsageError, match="--pick"):
        build_strategy("lr-find", {"pick": "median"})
    assert LrFindOptions().bounds(0.01) == pytest.approx((1e-5, 100.0))


def test_inverse_frequency_weights_balance_the_classes() -> None:
    labels = np.array([0] * 90 + [1] * 10)
    w = class_weights(labels, 2, Smoothing.NONE)
    # each class carries the same total weight, and the mean over the samples is 1
    assert w[0] * 90 == pytest.approx(w[1] * 10)
    assert w[labels].mean() == pytest.approx(1.0)
    sqrt = class_weights(labels, 2, Smoothing.SQRT)
    assert sqrt[1] / sqrt[0] == pytest.approx(3.0)
    assert class_weights(np.array([0, 0, 2]), 3, Smoothing.NONE)[1] == 0


def test_balanced_accuracy_of_the_majority_bet_is_one_half() -> None:
    truth = np.array([0] * 90 + [1] * 10)
    result = balanced(truth, np.zeros(100, dtype=int), 2)
    assert result.accuracy == pytest.approx(0.9)
    assert result.balanced_accuracy == pytest.approx(0.5)
    assert result.recalls == (1.0, 0.0)
    assert balanced(truth, truth, 3).recalls[2] is None


def test_predicted_labels_from_logits_and_probabilities() -> None:
    assert list(labels_from_outputs(np.array([[0.1, 0.9], [0.8, 0.2]]), True)) == [1, 0]
    assert list(labels_from_outputs(np.array([[-0.2], [0.3]]), True)) == [0, 1]
    assert list(labels_from_outputs(np.array([[0.4], [0.6]]), False)) == [0, 1]


@pytest.mark.parametrize("spatial", [(), (3, 3)])
def test_fold_keeps_the_function_and_unfold_inverts_it(spatial: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(4, 5, *spatial))
    bias = rng.normal(size=4)
    mean, std = rng.normal(size=5) * 100, rng.uniform(1, 1000, size=5)
    w, b = fold(kernel, bias, mean, std)
    x = rng.normal(size=(7, 5, *spatial)) * std.reshape(1, 5, *([1] * len(spatial))) + mean.reshape(
        1, 5, *([1] * len(spatial))
    )
    z = (x - mean.reshape(1, 5, *([1] * len(spatial)))) / std.reshape(1, 5, *([1] * len(spatial)))
    axes = (list(range(1, x.ndim)), list(range(1, kernel.ndim)))
    raw = np.tensordot(x, kernel, axes=axes) + bias  # a "valid" conv over one position
    folded = np.tensordot(z, w, axes=axes) + b
    assert np.max(np.abs(raw - folded)) < 1e-8 * np.max(np.abs(raw))
    back_w, back_b = unfold(w, b, mean, std)
    assert np.allclose(back_w, kernel)
    assert np.allclose(back_b, bias)


def test_statistics_leave_constant_features_unscaled() -> None:
    x = np.stack([np.arange(10.0), np.full(10, 3.0)], axis=1)
    mean, std = statistics(x, (0,))
    assert mean == pytest.approx([4.5, 3.0])
    assert std[1] == 1.0


def test_consumer_inputs_follow_each_frameworks_flatten() -> None:
    # torch (C, H, W): unit 1 of 3 with 4 positions each -> 4..7; Keras (H, W, C): 1, 4, 7, 10
    assert list(consumer_inputs(np.array([1]), 3, 4, False)) == [4, 5, 6, 7]
    assert list(consumer_inputs(np.array([1]), 3, 4, True)) == [1, 4, 7, 10]


def test_revive_keeps_the_outputs_where_the_units_were_dead() -> None:
    rng = np.random.default_rng(1)
    x = np.abs(rng.normal(size=(50, 6)))  # non-negative inputs
    kernel = rng.normal(size=(8, 6))
    kernel[[2, 5]] = -np.abs(kernel[[2, 5]])  # negative weights on positive inputs: dead
    bias = np.zeros(8)
    consumer = rng.normal(size=(3, 8))

    def forward(k: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        return np.maximum(x @ k.T + b, 0) @ c.T

    hidden = np.maximum(x @ kernel.T + bias, 0)
    dead = np.flatnonzero(hidden.max(axis=0) <= 0)
    assert {2, 5} <= set(dead.tolist())
    k2, b2, c2 = revive_arrays(kernel, bias, consumer, dead, 1, False, rng)
    assert np.max(np.abs(forward(k2, b2, c2) - forward(kernel, bias, consumer))) == 0.0
    assert not np.allclose(k2[dead], kernel[dead])
    assert np.all(c2[:, dead] == 0)
    # alive units untouched
    alive = [i for i in range(8) if i not in dead]
    assert np.array_equal(k2[alive], kernel[alive])
    assert np.array_equal(c2[:, alive], consumer[:, alive])


@pytest.mark.parametrize(
    ("name", "given", "match"),
    [
        ("rebalance", {"smoothing": "log"}, "--smoothing"),
        ("normalize", {"tolerance": -1.0}, "--tolerance"),
        ("revive", {"init_scale": 0.0}, "--init-scale"),
        ("regularize", {"dropout": 1.5}, "--dropout"),
        ("regularize", {"weight_decay": -0.1}, "--weight-decay"),
        ("revive", {"units": 4}, "widen"),
    ],
)
def test_bad_options_fail_before_any_framework(name: str, given: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        build_strategy(name, given)


def test_a_flat_noisy_curve_suggests_nothing_but_a_real_dip_does() -> None:
    rng = np.random.default_rng(0)
    lrs = curve.rates(1e-6, 10.0, 100)
    flat = list(0.3 + rng.normal(0, 0.1, 100))
    assert curve.suggest(lrs, curve.smooth(flat), Pick.MIN10, flat) is None
    dip = [
        v - 0.25 * math.exp(-((math.log10(lr) + 1) ** 2)) for v, lr in zip(flat, lrs, strict=True)
    ]
    s = curve.suggest(lrs, curve.smooth(dip), Pick.MIN10, dip)
    assert s is not None
    assert 0.01 < s.min_lr < 1.0


def test_a_steep_late_fall_the_ema_misses_is_found_by_the_running_median() -> None:
    # The zoo's unnormalised CNN (digits, tune half, seed 1): noisy batch losses ~43, then a
    # fall to ~2.5 over the last batches before the test diverges. The EMA lags behind it.
    rng = np.random.default_rng(1)
    lrs = curve.rates(1e-9, 1e-2, 100)
    losses = list(43 + rng.normal(0, 10, 100))
    for i, v in ((3, 74.0), (6, 97.0), (12, 90.0), (15, 5.0)):
        losses[i] = v  # outliers in the first batches widen the noise
    losses[-5:] = [10.3, 3.5, 2.6, 2.5, 2.4]
    smoothed = curve.smooth(losses)
    assert min(smoothed[9:]) > 30  # the EMA has barely moved
    s = curve.suggest(lrs, smoothed, Pick.MIN10, losses)
    assert s is not None
    assert "running median" in s.why
    assert s.min_lr == pytest.approx(lrs[-3])  # the last centred median
    assert s.lr == pytest.approx(lrs[-3] / 10)
    assert s.min_loss == pytest.approx(2.6)


def test_the_running_median_ignores_single_low_batches() -> None:
    rng = np.random.default_rng(2)
    lrs = curve.rates(1e-6, 10.0, 100)
    flat = list(40 + rng.normal(0, 8, 100))
    flat[50] = flat[70] = 1.0  # two lucky batches, not a fall
    assert curve.suggest(lrs, curve.smooth(flat), Pick.MIN10, flat) is None
    assert curve.running_median([1.0, 9.0, 2.0, 3.0, 8.0, 4.0])[2:4] == [3.0, 4.0]
    assert math.isnan(curve.running_median([1.0, 2.0, 3.0, 4.0, 5.0])[0])
