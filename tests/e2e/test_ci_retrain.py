"""examples/ci-retrain.sh as a CI job runs it, on the sample models (a subprocess per run)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "ci-retrain.sh"
SAMPLES = ROOT / "sample_models"

pytestmark = [pytest.mark.slow, pytest.mark.keras]


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PLATEAU_CLI": f"{sys.executable} -m plateau_cli",
        "ARTIFACTS_DIR": str(tmp_path / "artefacts"),
    }
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )


def test_findings_lead_to_a_resume_that_improves(tmp_path):
    model = SAMPLES / "keras" / "lr" / "model.keras"
    args = [str(model), str(SAMPLES / "data" / "digits.npz")]
    args += [str(SAMPLES / "keras" / "lr" / "training.log"), "out", "--", "--epochs", "3"]
    result = _run(args, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ci-retrain: improved" in result.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["strategy"]["name"] == "lr-decay"
    assert report["auto"]["log"].endswith("training.log")
    assert report["improved"] is True
    checkpoint = Path(report["output"]["path"])
    assert sorted(p.name for p in (tmp_path / "artefacts").iterdir()) == sorted(
        ["curves.png", "history.csv", "report.json", "report.md", checkpoint.name]
    )
    kept = tmp_path / "artefacts" / checkpoint.name
    assert kept.read_bytes() == (tmp_path / checkpoint).read_bytes()  # the new one, whole
    assert kept.read_bytes() != model.read_bytes()


def test_no_improvement_fails_the_job(tmp_path):
    args = [str(SAMPLES / "keras" / "widen" / "model.keras"), str(SAMPLES / "data" / "digits.npz")]
    args += [str(SAMPLES / "keras" / "widen" / "training.log"), "out", "--"]
    result = _run([*args, "--epochs", "1", "--min-delta", "5"], tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "did not improve" in result.stdout
    assert (tmp_path / "artefacts" / "report.json").exists()


def test_nothing_to_do_exits_0_without_training(tmp_path):
    log = tmp_path / "converged.csv"
    rows = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    for e in range(30):  # learns, then settles with a small gap: converged
        loss = 0.02 + 2.28 * math.exp(-e / 2)
        rows.append(f"{e},{1 - loss / 3:.5f},{loss:.6f},{0.98 - loss / 3:.5f},{loss + 0.01:.6f}")
    log.write_text("\n".join(rows) + "\n")
    model = SAMPLES / "keras" / "lr" / "model.keras"
    result = _run([str(model), str(SAMPLES / "data" / "digits.npz"), str(log), "out"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nothing to retrain" in result.stdout
    assert not (tmp_path / "out").exists()


def test_bad_input_passes_exit_2_through(tmp_path):
    model = SAMPLES / "keras" / "lr" / "model.keras"
    result = _run([str(model), "data.npz", str(tmp_path / "missing.log")], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:")


def test_needs_bash():
    assert shutil.which("bash")
