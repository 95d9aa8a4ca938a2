"""The start-up promise: `--help`, `diagnose` and error paths never import a framework.

Each case runs in a fresh interpreter (a test process has long since imported torch) and
lists the heavy modules present in `sys.modules` when the process exits.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAVY = ("tensorflow", "keras", "torch", "safetensors", "kornia", "matplotlib", "PIL")
FIXTURE_LOG = Path(__file__).parent / "fixtures" / "lazy" / "keras_csvlogger.csv"

PROBE = textwrap.dedent(
    """
    import atexit, json, sys
    heavy = {heavy!r}
    def dump():
        found = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
        with open({out!r}, "w") as fh:
            json.dump(found, fh)
    atexit.register(dump)
    from plateau_cli.cli import main
    main({argv!r})
    """
)


def _heavy_modules_after(argv: list[str], tmp_path: Path) -> tuple[int, list[str], str]:
    out = tmp_path / "modules.json"
    code = PROBE.format(heavy=HEAVY, out=str(out), argv=argv)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    return proc.returncode, json.loads(out.read_text()), proc.stderr


@pytest.mark.parametrize(
    ("argv", "expected_status"),
    [
        (["--help"], 0),
        (["--version"], 0),
        (["diagnose", "--help"], 0),
        (["resume", "--help"], 0),
        (["diagnose", str(FIXTURE_LOG), "--json"], None),
        (["diagnose", str(FIXTURE_LOG)], None),
        (["diagnose", "no/such/run.log"], 2),
        (["resume", "no/such/model.keras", "--strategy", "lr-decay", "--data", "d.npz"], 2),
        (["resume", str(FIXTURE_LOG), "--strategy", "nope", "--data", "d.npz"], 2),
        (["inspect", "no/such/model.pt"], 2),
        (["inspect", str(FIXTURE_LOG)], 2),  # a CSV is not a checkpoint: sniffed, no framework
    ],
)
def test_no_framework_imported(argv, expected_status, tmp_path):
    status, modules, stderr = _heavy_modules_after(argv, tmp_path)
    assert modules == [], f"{argv} imported {modules}"
    if expected_status is not None:
        assert status == expected_status, stderr
    assert "Traceback" not in stderr


def test_diagnose_with_data_reads_the_arrays_without_a_framework(tmp_path):
    """`--data x.npz` (the class count from the labels) goes through the aligned npz reader,
    which allocates memory a framework can share; it must not import one to do so."""
    import numpy as np

    data = tmp_path / "d.npz"
    y = np.arange(40) % 4
    x = np.ones((40, 3), np.float32)
    np.savez(data, x_train=x, y_train=y, x_val=x[:8], y_val=y[:8])
    status, modules, stderr = _heavy_modules_after(
        ["diagnose", str(FIXTURE_LOG), "--data", str(data), "--json"], tmp_path
    )
    assert modules == [], modules
    assert status in (0, 1), stderr
    assert "Traceback" not in stderr
