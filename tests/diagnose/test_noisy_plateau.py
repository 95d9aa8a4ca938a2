"""A plateau that bounces (noise large against its level) is an lr problem, whatever the gap."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plateau_cli.diagnose import diagnose
from plateau_cli.diagnose.base import DiagnoseOptions, FindingKind, StrategyName
from plateau_cli.history import history_from_rows
from plateau_cli.logs import read_log

SAMPLES = Path(__file__).resolve().parents[2] / "sample_models"


def _run(val_noise: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = []
    for epoch in range(30):
        train = max(0.15, 1.5 * np.exp(-epoch / 3))
        val = max(0.3, 1.6 * np.exp(-epoch / 3)) + (rng.normal(0, val_noise) if epoch > 8 else 0)
        accuracy = 1.0 - train / 2 + rng.normal(0, 0.002)
        rows.append(
            {"loss": train, "val_loss": abs(val), "accuracy": accuracy, "val_accuracy": 1 - val / 2}
        )
    return history_from_rows(rows)


def test_bouncing_plateau_with_a_gap_gets_lr_decay():
    diagnosis = diagnose(_run(val_noise=0.08), DiagnoseOptions(num_classes=10))
    assert diagnosis.verdict is FindingKind.PLATEAU
    plateau = next(f for f in diagnosis.findings if f.kind is FindingKind.PLATEAU)
    assert plateau.evidence["noise_over_level"] >= 0.1
    assert diagnosis.recommendation.strategy is StrategyName.LR_DECAY
    assert "bounces" in diagnosis.recommendation.reason


def test_quiet_plateau_with_a_gap_still_gets_augment():
    diagnosis = diagnose(_run(val_noise=0.002), DiagnoseOptions(num_classes=10))
    plateau = next(f for f in diagnosis.findings if f.kind is FindingKind.PLATEAU)
    assert plateau.evidence["noise_over_level"] < 0.1
    assert diagnosis.recommendation.strategy is StrategyName.AUGMENT


def test_the_lr_sample_log_is_read_as_an_lr_problem():
    read = read_log(SAMPLES / "keras" / "lr" / "training.log")
    diagnosis = diagnose(read.history, DiagnoseOptions())
    assert diagnosis.recommendation.strategy is StrategyName.LR_DECAY
