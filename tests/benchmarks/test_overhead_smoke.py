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
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    rows = [line.split() for line in lines if line.startswith(("keras", "torch"))]
    cells = {(r[0], r[1], int(r[2])) for r in rows}
    assert cells == {
        (framework, model, batch)
        for framework in ("keras", "torch")
        for model in ("mlp", "cnn")
        for batch in (32, 256)
    }
    for row in rows:
        plain, on_file, on_terminal = (float(v) for v in row[3:6])
        assert min(plain, on_file, on_terminal) > 0  # measured figures
    assert any(line.startswith("plateau-cli --help") for line in lines)
