import itertools
import math

import pytest

from plateau_cli.errors import UsageError
from plateau_cli.monitor import Monitor
from plateau_cli.strategies import build_strategy
from plateau_cli.strategies.lr_decay.options import LrDecayOptions
from plateau_cli.strategies.lr_decay.schedules import Constant, Cosine, Exponential, Plateau, Step


def test_constant_step_exponential():
    assert [Constant(0.1).lr_at(e) for e in (1, 5)] == [0.1, 0.1]
    step = Step(1.0, gamma=0.1, step_size=2)
    assert [step.lr_at(e) for e in range(1, 6)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    exp = Exponential(1.0, gamma=0.5, min_lr=0.2)
    assert [exp.lr_at(e) for e in range(1, 5)] == pytest.approx([1, 0.5, 0.25, 0.2])


def test_cosine_starts_at_lr_and_approaches_min():
    cos = Cosine(1e-3, epochs=10, min_lr=1e-5)
    rates = [cos.lr_at(e) for e in range(1, 11)]
    assert rates[0] == pytest.approx(1e-3)
    assert all(a > b for a, b in itertools.pairwise(rates))
    assert rates[-1] > 1e-5
    assert rates[5] == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + math.cos(math.pi * 0.5)))


def _keras_reduce_lr_on_plateau(values, lr, factor, patience, cooldown, min_lr, min_delta):
    """Keras 3's ReduceLROnPlateau.on_epoch_end, transcribed (mode min)."""
    best, wait, cooldown_counter, out = math.inf, 0, 0, []
    for current in values:
        if cooldown_counter > 0:
            cooldown_counter -= 1
            wait = 0
        if current < best - min_delta:
            best, wait = current, 0
        elif not cooldown_counter > 0:
            wait += 1
            if wait >= patience and lr > min_lr:
                lr = max(lr * factor, min_lr)
                cooldown_counter, wait = cooldown, 0
        out.append(lr)
    return out


@pytest.mark.parametrize(
    ("patience", "cooldown", "min_lr", "min_delta"),
    [(1, 0, 0.0, 0.0), (2, 0, 0.0, 0.0), (2, 1, 0.0, 0.01), (1, 2, 1e-3, 0.0)],
)
def test_plateau_matches_keras_reduce_lr_on_plateau(patience, cooldown, min_lr, min_delta):
    values = [1.0, 0.8, 0.79, 0.795, 0.8, 0.7, 0.71, 0.72, 0.73, 0.74, 0.69, 0.7, 0.7]
    expected = _keras_reduce_lr_on_plateau(values, 0.1, 0.5, patience, cooldown, min_lr, min_delta)
    schedule = Plateau(
        0.1, 0.5, patience, cooldown, Monitor.for_metric("val_loss", min_delta), min_lr
    )
    got = []
    for epoch, value in enumerate(values, 1):
        schedule.observe(epoch, value)
        got.append(schedule.current)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"factor": 1.5}, "Received: factor=1.5"),
        ({"factor": 0.5, "lr": 0.01}, "not both"),
        ({"lr": -1.0}, "positive"),
        ({"schedule": "linear"}, "unknown --schedule 'linear'"),
        ({"lr_patience": 3}, "--lr-patience applies to --schedule plateau only"),
        ({"schedule": "cosine", "step_size": 2}, "--step-size applies to --schedule step only"),
        ({"units": 32}, "--units does not apply to --strategy lr-decay"),
    ],
)
def test_bad_options_fail_before_any_framework(given, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_strategy("lr-decay", given)


def test_defaults():
    options = LrDecayOptions()
    assert options.effective_factor == 0.1
    assert LrDecayOptions(schedule="exponential").effective_gamma == 0.9
