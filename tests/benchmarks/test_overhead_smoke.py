"""benchmarks/overhead.py runs end to end on tiny sizes and prints its tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "overhead.py"


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.torch
def test_overhead_quick_prints_ratios():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    rows = {line.split()[0]: line.split() for line in lines if line.startswith(("keras", "torch"))}
    assert set(rows) == {"keras", "torch"}
    for row in rows.values():
        assert float(row[-1]) > 0  # a measured ratio
    assert any(line.startswith("plateau-cli --help") for line in lines)
