"""Ctrl-C and SIGTERM during torch training, in a real process (the Keras twin is in
tests/e2e/test_resume_keras.py): exit 130, the best checkpoint so far, a report marked
`interrupted`; and a second Ctrl-C (or a SIGTERM) while that checkpoint is being saved is
ignored, so the save completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from plateau_cli.atomic import TEMP_PREFIX
from plateau_cli.outputs import sha256_of
from tests.reliability.conftest import MLP_FACTORY

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.torch, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
REPORT_SCHEMA = json.loads((ROOT / "schemas" / "report.schema.json").read_text())


def start(module: str, checkpoint: Path, data: Path, out: Path) -> subprocess.Popen:
    args = [sys.executable, "-m", module, "resume", str(checkpoint), "--model-factory"]
    args += [MLP_FACTORY, "--strategy", "lr-decay", "--data", str(data), "--epochs", "500"]
    args += ["--batch-size", "16", "--patience", "500", "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    return subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE, text=True, env=env)


def wait_for(
    proc: subprocess.Popen,
    prefix: str,
    seen: list[str],
    timeout: float = 120,
    *,
    anywhere: bool = False,
) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith(prefix) or (anywhere and prefix in line):
            return
    proc.kill()
    pytest.fail(f"never saw {prefix!r}:\n{''.join(seen)}")


def check_interrupted_output(out: Path, data: Path) -> dict:
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["stopped_reason"] == "interrupted"
    assert report["epochs_run"] >= 2
    assert report["output"]["sha256"] == sha256_of(out / "checkpoint.pt")
    assert not [p.name for p in out.iterdir() if p.name.startswith(TEMP_PREFIX)]
    # The checkpoint holds the best epoch's weights: evaluating them gives the report's numbers.
    import numpy as np

    from tests.adapters.torch.torch_fixtures import evaluate_plain, nets

    state = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
    model = nets.mlp()
    model.load_state_dict(state["model_state_dict"])
    arrays = np.load(data)
    loss, _ = evaluate_plain(model, arrays["x_val"], arrays["y_val"])
    assert loss == pytest.approx(report["output_metrics"]["val_loss"], rel=1e-4)
    assert loss == pytest.approx(report["best"]["metrics"]["val_loss"], rel=1e-4)
    return report


def test_ctrl_c_during_torch_training_exits_130_with_checkpoint_and_report(
    torch_checkpoint, digits, tmp_path
):
    sig = signal.SIGINT
    out = tmp_path / "out"
    proc = start("plateau_cli", torch_checkpoint, digits, out)
    seen: list[str] = []
    wait_for(proc, "epoch 2/", seen)
    proc.send_signal(sig)
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, "".join(seen) + rest
    assert "Traceback" not in rest
    report = check_interrupted_output(out, digits)
    assert signal.Signals(sig).name in report["stopped_detail"]


def test_sigterm_then_signals_during_the_final_save_are_ignored(torch_checkpoint, digits, tmp_path):
    """SIGTERM (what CI sends on a timeout) stops training like Ctrl-C; a second Ctrl-C and
    another SIGTERM during the save are ignored."""
    out = tmp_path / "out"
    proc = start("tests.reliability.interrupt_child", torch_checkpoint, digits, out)
    seen: list[str] = []
    wait_for(proc, "epoch 2/", seen)
    proc.send_signal(signal.SIGTERM)
    # Two signals pending at once run their handlers in signal-number order (SIGINT first), so
    # the next ones go only once the run has said it is stopping: the save after that line is
    # the final one, not a recovery point written while SIGTERM was still undelivered.
    wait_for(proc, "stopped: SIGTERM", seen, anywhere=True)
    wait_for(proc, "SAVE-STARTED", seen)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGINT):  # impatient user, then CI
        proc.send_signal(sig)
        time.sleep(0.1)
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, "".join(seen) + rest
    assert "SAVE-FINISHED" in rest, rest
    assert "Traceback" not in rest
    report = check_interrupted_output(out, digits)
    assert "SIGTERM" in report["stopped_detail"]
