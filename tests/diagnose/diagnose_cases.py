"""Hand-made training curves, one per symptom and one per tricky near-miss.

Each case is a small story with its expected verdict, the finding kinds it must show and the
ones it must not. The series are generated from a formula plus seeded noise, so they are
reproducible and read like real logs (a fast start, a tail, epoch-to-epoch jitter).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from plateau_cli.diagnose import DiagnoseOptions, DiagnoseResult, FindingKind, diagnose
from plateau_cli.diagnose.context import Context, build_context, choose_monitor
from plateau_cli.diagnose.next_command import next_command
from plateau_cli.history import RunHistory, history_from_rows
from plateau_cli.logs.base import LogRead

K = FindingKind
LN10 = math.log(10)


def history(**columns: np.ndarray | list[float]) -> RunHistory:
    """A RunHistory from equal-length columns (epoch 1 is the first value)."""
    arrays = {name: np.asarray(values, dtype=float) for name, values in columns.items()}
    n = len(next(iter(arrays.values())))
    return history_from_rows([{k: float(v[i]) for k, v in arrays.items()} for i in range(n)])


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], RunHistory]
    verdict: FindingKind
    present: frozenset[FindingKind] = frozenset()
    absent: frozenset[FindingKind] = frozenset()
    options: DiagnoseOptions = field(default_factory=DiagnoseOptions)


def _noise(seed: int, n: int, sigma: float) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, sigma, n)


def healthy() -> RunHistory:
    t = np.arange(40)
    loss = 0.15 + 2.15 * np.exp(-t / 12) + _noise(1, 40, 0.01)
    val = loss + 0.05 + _noise(2, 40, 0.01)
    acc = 0.97 - 0.87 * np.exp(-t / 10)
    return history(loss=loss, val_loss=val, accuracy=acc, val_accuracy=acc - 0.02)


def noisy_but_improving() -> RunHistory:
    t = np.arange(40)
    loss = 0.3 + 1.5 * np.exp(-t / 20) + _noise(3, 40, 0.03)
    val = 0.35 + 1.5 * np.exp(-t / 20) + _noise(4, 40, 0.04)
    return history(loss=loss, val_loss=val)


def lucky_epoch_in_plateau() -> RunHistory:
    t = np.arange(40)
    loss = 0.55 + 1.7 * np.exp(-t / 3) + _noise(5, 40, 0.004)
    val = 0.6 + 1.7 * np.exp(-t / 3) + _noise(6, 40, 0.005)
    val[-3] = 0.5  # one lucky epoch: Keras' wait would restart here
    return history(loss=loss, val_loss=val)


def slow_steady() -> RunHistory:
    t = np.arange(50)
    loss = 2.3 - 0.008 * t + _noise(7, 50, 0.004)
    return history(loss=loss, val_loss=loss + 0.02 + _noise(8, 50, 0.004))


def late_slow_but_healthy() -> RunHistory:
    t = np.arange(60)
    loss = 0.25 + 2.0 * np.exp(-t / 8) + 0.2 * np.exp(-t / 40) + _noise(9, 60, 0.002)
    return history(loss=loss, val_loss=loss + 0.03 + _noise(10, 60, 0.002))


def stuck_at_ln10() -> RunHistory:
    n = 30
    loss = LN10 + _noise(11, n, 0.002)
    acc = 0.1 + _noise(12, n, 0.004)
    return history(
        loss=loss, val_loss=LN10 + _noise(13, n, 0.003), accuracy=acc, val_accuracy=acc + 0.001
    )


def flat_regression() -> RunHistory:
    n = 20
    return history(loss=1.0 + _noise(14, n, 0.001), val_loss=1.02 + _noise(15, n, 0.001))


def memorising_at_chance() -> RunHistory:
    t = np.arange(30)
    loss = 0.05 + 2.25 * np.exp(-t / 6)
    val_loss = LN10 + 0.02 * t
    val_acc = 0.1 + _noise(16, 30, 0.006)
    return history(
        loss=loss, val_loss=val_loss, accuracy=1 - 0.9 * np.exp(-t / 6), val_accuracy=val_acc
    )


def frozen_accuracy() -> RunHistory:
    t = np.arange(25)
    loss = 0.48 + 0.12 * np.exp(-t / 8) + _noise(17, 25, 0.002)
    return history(
        loss=loss,
        val_loss=loss + 0.01,
        accuracy=np.full(25, 0.8123),
        val_accuracy=np.full(25, 0.8123),
    )


def learned_then_frozen_at_best() -> RunHistory:
    t = np.arange(40)
    acc = np.minimum(0.9722, 0.3 + 0.06 * t)  # 35/36 of a small validation set
    loss = 0.08 + 1.9 * np.exp(-t / 4) + _noise(18, 40, 0.003)
    return history(
        loss=loss * 0.8, val_loss=loss, accuracy=np.minimum(1.0, acc + 0.01), val_accuracy=acc
    )


def oscillating() -> RunHistory:
    t = np.arange(30)
    swing = 0.35 * (-1.0) ** t
    loss = 1.2 + 0.6 * np.exp(-t / 5) + swing + _noise(19, 30, 0.02)
    return history(loss=loss, val_loss=loss + 0.05 - 0.5 * swing)


def oscillation_then_plateau() -> RunHistory:
    t = np.arange(40)
    loss = np.where(t < 15, 1.6 + 0.5 * (-1.0) ** t, 1.5) + _noise(20, 40, 0.003)
    acc = np.where(t < 15, 0.35 + 0.1 * (-1.0) ** t, 0.37) + _noise(21, 40, 0.002)
    return history(loss=loss, val_loss=loss + 0.02, accuracy=acc, val_accuracy=acc - 0.01)


def nan_divergence() -> RunHistory:
    t = np.arange(20).astype(float)
    loss = 0.4 + 1.5 * np.exp(-t / 3)
    loss[11:] = math.nan
    return history(loss=loss, val_loss=loss + 0.05)


def explosion() -> RunHistory:
    loss = [2.0, 1.2, 0.8, 0.6, 0.5, 0.45, 0.42, 1.4, 4.8, 19.0, 77.0, 310.0, 900.0, 2400.0]
    return history(loss=loss, val_loss=[v * 1.1 for v in loss])


def overfitting() -> RunHistory:
    t = np.arange(40)
    loss = 0.02 + 2.0 * np.exp(-t / 6)
    val = 0.3 + 0.5 * np.exp(-t / 5) + np.maximum(0, t - 15) * 0.02 + _noise(22, 40, 0.005)
    return history(loss=loss, val_loss=val)


def underfitting() -> RunHistory:
    t = np.arange(40)
    loss = 1.4 + 0.9 * np.exp(-t / 3) + _noise(23, 40, 0.004)
    acc = 0.5 - 0.4 * np.exp(-t / 3)
    return history(
        loss=loss,
        val_loss=loss + 0.03 + _noise(24, 40, 0.004),
        accuracy=acc,
        val_accuracy=acc - 0.01,
    )


def converged() -> RunHistory:
    t = np.arange(40)
    loss = 0.02 + 2.28 * np.exp(-t / 4) + _noise(25, 40, 0.001)
    val = 0.06 + 2.24 * np.exp(-t / 4) + _noise(26, 40, 0.002)
    acc = 0.995 - 0.895 * np.exp(-t / 4)
    return history(loss=loss, val_loss=val, accuracy=acc, val_accuracy=acc - 0.01)


def plateau_with_gap() -> RunHistory:
    t = np.arange(40)
    loss = 0.01 + 2.29 * np.exp(-t / 5)
    val = 0.5 + 1.8 * np.exp(-t / 4) + _noise(27, 40, 0.003)
    acc = 0.999 - 0.9 * np.exp(-t / 5)
    return history(loss=loss, val_loss=val, accuracy=acc, val_accuracy=0.85 - 0.75 * np.exp(-t / 4))


def moderate_plateau() -> RunHistory:
    t = np.arange(40)
    loss = 0.5 + 1.8 * np.exp(-t / 4) + _noise(28, 40, 0.003)
    val = 0.52 + 1.78 * np.exp(-t / 4) + _noise(29, 40, 0.003)
    acc = 0.85 - 0.75 * np.exp(-t / 4)
    return history(loss=loss, val_loss=val, accuracy=acc, val_accuracy=acc - 0.01)


def three_epochs() -> RunHistory:
    return history(loss=[2.0, 1.5, 1.2], val_loss=[2.1, 1.6, 1.3])


def finetuned_converged_from_start() -> RunHistory:
    n = 15
    loss = 0.05 + _noise(30, n, 0.001)
    return history(
        loss=loss,
        val_loss=loss + 0.01,
        accuracy=0.985 + _noise(31, n, 0.001),
        val_accuracy=0.98 + _noise(32, n, 0.001),
    )


def drift_below_min_delta() -> RunHistory:
    t = np.arange(40)
    loss = 0.3 + 2.0 * np.exp(-t / 3) - 0.001 * t
    return history(loss=loss, val_loss=loss + 0.02)


CASES: tuple[Case, ...] = (
    Case("healthy", healthy, K.HEALTHY, absent=frozenset({K.PLATEAU, K.OSCILLATION})),
    Case(
        "noisy but improving",
        noisy_but_improving,
        K.HEALTHY,
        absent=frozenset({K.OSCILLATION, K.PLATEAU, K.UNDERFITTING}),
    ),
    Case(
        "one lucky epoch in a plateau",
        lucky_epoch_in_plateau,
        K.PLATEAU,
        absent=frozenset({K.HEALTHY}),
    ),
    Case(
        "slow steady improvement",
        slow_steady,
        K.SLOW_CONVERGENCE,
        absent=frozenset({K.PLATEAU, K.UNDERFITTING, K.NO_LEARNING}),
    ),
    Case(
        "fast start, slow tail",
        late_slow_but_healthy,
        K.HEALTHY,
        absent=frozenset({K.SLOW_CONVERGENCE}),
    ),
    Case(
        "loss at ln(10), accuracy 0.1",
        stuck_at_ln10,
        K.NO_LEARNING,
        present=frozenset({K.CHANCE_LEVEL}),
        absent=frozenset({K.UNDERFITTING, K.PLATEAU}),
    ),
    Case("flat regression loss", flat_regression, K.NO_LEARNING),
    Case(
        "memorising, validation at chance",
        memorising_at_chance,
        K.CHANCE_LEVEL,
        options=DiagnoseOptions(num_classes=10),
    ),
    Case(
        "accuracy frozen at 0.8123",
        frozen_accuracy,
        K.MAJORITY_CLASS,
        absent=frozenset({K.CHANCE_LEVEL}),
    ),
    Case(
        "accuracy frozen at its best",
        learned_then_frozen_at_best,
        K.CONVERGED,
        absent=frozenset({K.MAJORITY_CLASS}),
    ),
    Case("oscillation", oscillating, K.OSCILLATION),
    Case(
        "oscillation then plateau",
        oscillation_then_plateau,
        K.OSCILLATION,
        present=frozenset({K.UNDERFITTING}),
    ),
    Case("NaN", nan_divergence, K.DIVERGENCE),
    Case("explosion", explosion, K.DIVERGENCE),
    Case("overfitting", overfitting, K.OVERFITTING, absent=frozenset({K.PLATEAU})),
    Case("underfitting", underfitting, K.UNDERFITTING),
    Case("converged", converged, K.CONVERGED),
    Case("plateau with a gap", plateau_with_gap, K.PLATEAU),
    Case("plateau at a moderate loss", moderate_plateau, K.PLATEAU),
    Case("three epochs", three_epochs, K.HEALTHY),
    Case(
        "fine-tuned, low from the start",
        finetuned_converged_from_start,
        K.CONVERGED,
        absent=frozenset({K.NO_LEARNING}),
        options=DiagnoseOptions(num_classes=10),
    ),
    Case(
        "drift below --min-delta",
        drift_below_min_delta,
        K.PLATEAU,
        options=DiagnoseOptions(min_delta=0.05),
    ),
    Case("the same drift without --min-delta", drift_below_min_delta, K.HEALTHY),
)


def context(run: RunHistory, options: DiagnoseOptions | None = None) -> Context:
    """The detectors' Context for `run`, as diagnose() builds it."""
    options = options or DiagnoseOptions()
    return build_context(run, options, choose_monitor(run, options))


def result(
    run: RunHistory,
    options: DiagnoseOptions | None = None,
    *,
    path: str = "run.csv",
    fmt: str = "keras-csv",
    model: str | None = None,
    data: str | None = None,
) -> DiagnoseResult:
    """A DiagnoseResult as diagnose_log would return it for a log holding `run`."""
    diagnosis = diagnose(run, options or DiagnoseOptions())
    command = next_command(diagnosis.recommendation.strategy, model=model, data=data)
    return DiagnoseResult(diagnosis, LogRead(run, fmt, Path(path)), command)
