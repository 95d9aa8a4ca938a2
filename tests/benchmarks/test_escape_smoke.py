"""benchmarks/escape.py runs end to end on tiny sizes and its table holds real numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "escape.py"


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.torch
def test_escape_quick(tmp_path):
    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text())
    arms = {(r["framework"], r["arm"]) for r in rows}
    assert arms == {
        (f, a) for f in ("keras", "torch") for a in ("continue", "reduce-lr", "lr-decay")
    }
    assert all(0 < r["best_val_loss"] < 5 for r in rows)
    assert "escape rate of the matching strategies" in proc.stdout
