"""benchmarks/recovery_cost.py runs end to end on one sample per framework and prints its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "recovery_cost.py"


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.torch
def test_recovery_cost_quick_prints_save_and_epoch_seconds():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--rounds", "1", "--epochs", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    rows = [line.split() for line in lines if line.startswith(("keras", "torch"))]
    assert {row[0] for row in rows} == {"keras", "torch"}
    for row in rows:  # framework, "sample", name, epoch s, (spread), save s, (spread), ratio
        assert float(row[3]) > 0
        assert float(row[5]) > 0
