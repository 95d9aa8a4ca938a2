"""`plateau-cli resume` on a real Keras model, through the CLI, as a user runs it (issue 3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from tests.e2e.keras_plateau import digits_npz, stalled_keras_model
from tests.e2e.runner import run_cli

keras = pytest.importorskip("keras")
pytestmark = pytest.mark.keras


@pytest.fixture(scope="module")
def stalled(tmp_path_factory):
    root = tmp_path_factory.mktemp("keras_plateau")
    data = digits_npz(root / "digits.npz")
    model = stalled_keras_model(root / "model.keras", data)
    return model, data


@pytest.fixture(scope="module")
def resumed(stalled, tmp_path_factory):
    model, data = stalled
    before = model.read_bytes()
    out = tmp_path_factory.mktemp("out") / "run"
    result = run_cli(
        [
            "resume",
            str(model),
            "--strategy",
            "lr-decay",
            "--data",
            str(data),
            "--epochs",
            "4",
            "--batch-size",
            "64",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert result.code == 0, result.stderr
    return model, data, out, json.loads(result.stdout), before


def test_input_is_byte_identical(resumed):
    model, _, _, _, before = resumed
    assert model.read_bytes() == before


def test_output_loads_in_plain_keras_and_matches_the_report(resumed):
    _, data, out, report, _ = resumed
    arrays = np.load(data)
    written = keras.models.load_model(out / "model.keras")
    evaluated = written.evaluate(arrays["x_val"], arrays["y_val"], verbose=0, return_dict=True)
    assert report["output"]["path"] == str(out / "model.keras")
    assert evaluated["loss"] == pytest.approx(report["output_metrics"]["val_loss"], abs=1e-5)
    assert evaluated["loss"] == pytest.approx(report["best"]["metrics"]["val_loss"], abs=1e-5)
    assert evaluated["accuracy"] == pytest.approx(report["best"]["metrics"]["val_accuracy"])


def test_optimizer_iterations_continue_and_lr_is_decayed(resumed):
    model, _, out, report, _ = resumed
    original = keras.models.load_model(model)
    written = keras.models.load_model(out / "model.keras")
    steps_per_epoch = -(-1400 // 64)
    saved = int(original.optimizer.iterations.numpy())
    assert report["optimizer"]["loaded_state"] == "restored"
    assert report["optimizer"]["iterations_at_load"] == saved
    # Adam's moments continued: the step count went on from the checkpoint's.
    assert (
        int(written.optimizer.iterations.numpy()) == saved + report["epochs_run"] * steps_per_epoch
    )
    old_lr = float(original.optimizer.learning_rate.numpy())
    assert float(written.optimizer.learning_rate.numpy()) == pytest.approx(old_lr * 0.1, rel=1e-6)
    assert report["changes"][0] == (
        f"learning rate {old_lr:g} -> {old_lr * 0.1:g} (overrides the restored optimizer's rate)"
    )
    assert [row["lr"] for row in report["history"]] == pytest.approx([old_lr * 0.1] * 4)


def test_report_contract_fields(resumed):
    _, _, out, report, _ = resumed
    for field in (
        "schema_version", "tool", "command_line", "framework", "input", "output", "strategy",
        "changes", "baseline", "best", "final", "improved", "monitor", "epochs_run",
        "stopped_reason", "history", "seed", "duration_s",
    ):  # fmt: skip
        assert field in report, field
    assert report["framework"] == "keras"
    assert report["input"]["format"] == "keras-v3"
    assert len(report["input"]["sha256"]) == 64
    assert report["strategy"]["name"] == "lr-decay"
    assert report["monitor"] == {"metric": "val_loss", "mode": "min", "min_delta": 0.0}
    assert report["improved"] == (
        report["best"]["metrics"]["val_loss"] < report["baseline"]["val_loss"]
    )
    assert json.loads((out / "report.json").read_text()) == report
    schema = json.loads((Path(__file__).parents[2] / "schemas" / "report.schema.json").read_text())
    jsonschema.validate(report, schema)
    assert "| val_loss |" in (out / "report.md").read_text()


def test_diagnose_reads_the_written_history(resumed):
    _, _, out, report, _ = resumed
    result = run_cli(["diagnose", str(out / "history.csv"), "--json", "--exit-zero"])
    assert result.code == 0, result.stderr
    diagnosis = json.loads(result.stdout)
    assert diagnosis["source"]["format"] == "keras-csv"
    assert diagnosis["epochs"] == report["epochs_run"]
    assert {"loss", "val_loss", "accuracy", "val_accuracy", "lr"} <= set(diagnosis["metrics"])


def test_same_seed_gives_the_same_report_numbers(stalled, tmp_path):
    model, data = stalled
    reports = []
    for name in ("a", "b"):
        args = ["resume", str(model), "--strategy", "lr-decay", "--data", str(data)]
        args += ["--epochs", "2", "--seed", "7", "--out", str(tmp_path / name), "--json"]
        result = run_cli(args)
        assert result.code == 0, result.stderr
        reports.append(json.loads(result.stdout))
    assert reports[0]["history"] == reports[1]["history"]
    assert reports[0]["baseline"] == reports[1]["baseline"]


def test_require_improvement_exits_1_when_it_did_not_improve(stalled, tmp_path):
    model, data = stalled
    args = ["resume", str(model), "--strategy", "lr-decay", "--data", str(data), "--epochs", "1"]
    args += ["--min-delta", "10", "--require-improvement", "--out", str(tmp_path / "o"), "--quiet"]
    result = run_cli(args)
    assert result.code == 1, result.stderr
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["improved"] is False


# -- bad input: exit 2, one line, nothing written -----------------------------------------------


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def _bad_inputs(stalled, tmp_path):
    model, data = stalled
    text = tmp_path / "text" / "model.keras"
    text.parent.mkdir()
    text.write_text("this is not a model\n")
    truncated = tmp_path / "truncated" / "model.keras"
    truncated.parent.mkdir()
    truncated.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    x = np.zeros((20, 64), np.float32)
    y = np.zeros(20, np.int64)
    wide = _npz(tmp_path / "wide.npz", x_train=np.zeros((20, 30), np.float32), y_train=y,
                x_val=np.zeros((5, 30), np.float32), y_val=y[:5])  # fmt: skip
    labels = _npz(tmp_path / "labels.npz", x_train=x, y_train=np.full(20, 12), x_val=x[:5],
                  y_val=y[:5])  # fmt: skip
    keys = _npz(tmp_path / "keys.npz", features=x, labels=y)
    return {
        "missing file": (tmp_path / "nope.keras", data, "lr-decay", "no such file"),
        "text named model.keras": (text, data, "lr-decay", "model.keras"),
        "truncated .keras": (truncated, data, "lr-decay", "truncated"),
        "features do not match": (model, wide, "lr-decay", "64"),
        "labels beyond the outputs": (model, labels, "lr-decay", "12"),
        "npz without the keys": (model, keys, "lr-decay", "x_train"),
        "unknown strategy": (model, data, "sharpen", "unknown strategy 'sharpen'"),
    }


CASES = [
    "missing file",
    "text named model.keras",
    "truncated .keras",
    "features do not match",
    "labels beyond the outputs",
    "npz without the keys",
    "unknown strategy",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exit_2_one_line_nothing_written(case, stalled, tmp_path):
    model, data, strategy, needle = _bad_inputs(stalled, tmp_path)[case]
    out = tmp_path / "out"
    args = ["resume", str(model), "--strategy", strategy, "--data", str(data), "--out", str(out)]
    result = run_cli([*args, "--epochs", "1"])
    assert result.code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert needle.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists()


# -- Ctrl-C in a real process --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_training_exits_130_with_checkpoint_and_report(sig, stalled, tmp_path):
    model, data = stalled
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", "plateau_cli", "resume", str(model), "--strategy", "lr-decay"]
    args += ["--data", str(data), "--epochs", "500", "--batch-size", "8", "--patience", "500"]
    args += ["--out", str(out)]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env)
    seen = []
    deadline = time.monotonic() + 120
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        if line.startswith("epoch 2/"):
            break
    proc.send_signal(sig)
    rest = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, "".join(seen) + rest
    report = json.loads((out / "report.json").read_text())
    assert report["stopped_reason"] == "interrupted"
    assert report["epochs_run"] >= 2
    loaded = keras.models.load_model(out / "model.keras")
    assert loaded.count_params() > 0
    with zipfile.ZipFile(out / "model.keras") as archive:
        assert archive.testzip() is None
    assert not [p for p in out.iterdir() if p.name.startswith(".plateau-tmp-")]
