"""`plateau-cli diagnose` through the CLI: exit codes, --json, --monitor, --plot, --exit-zero."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from plateau_cli.history import RunHistory
from tests.diagnose.diagnose_cases import converged, healthy, overfitting, stuck_at_ln10
from tests.e2e.runner import CliResult, run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "logs"


def write_keras_csv(path: Path, run: RunHistory) -> Path:
    """Write `run` the way Keras' CSVLogger does (epochs from 0, columns sorted)."""
    names = sorted(run.epochs)
    rows = ["epoch," + ",".join(names)]
    n = len(run.epochs[names[0]])
    for i in range(n):
        rows.append(f"{i}," + ",".join(repr(float(run.epochs[m].values[i])) for m in names))
    path.write_text("\n".join(rows) + "\n")
    return path


def _json(result: CliResult) -> dict:
    assert result.stdout.count("\n") >= 1
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("build", "code"), [(healthy, 0), (converged, 0), (overfitting, 1), (stuck_at_ln10, 1)]
)
def test_exit_code_follows_the_findings(tmp_path: Path, build: object, code: int) -> None:
    log = write_keras_csv(tmp_path / "run.csv", build())  # type: ignore[operator]
    result = run_cli(["diagnose", str(log)])
    assert result.code == code, result.stderr
    assert "Recommendation:" in result.stdout  # the result goes where `> file` and `|` look
    assert "Recommendation" not in result.stderr


def test_exit_zero_overrides_findings(tmp_path: Path) -> None:
    log = write_keras_csv(tmp_path / "run.csv", overfitting())
    assert run_cli(["diagnose", str(log), "--exit-zero"]).code == 0


def test_json_is_one_document_on_stdout(tmp_path: Path) -> None:
    log = write_keras_csv(tmp_path / "run.csv", overfitting())
    result = run_cli(["diagnose", str(log), "--json", "--model", "m.keras", "--data", "d.npz"])
    assert result.code == 1
    doc = _json(result)
    assert doc["schema_version"] == 1
    assert doc["source"] == {"path": str(log), "format": "keras-csv"}
    assert doc["epochs"] == 40
    assert doc["verdict"] == "overfitting"
    assert doc["recommendation"]["strategy"] == "augment"
    ids = [a["id"] for a in doc["recommendation"]["actions"]]
    assert ids[:2] == ["restore-best", "regularize"]
    assert doc["next_command"] == "plateau-cli resume m.keras --strategy augment --data d.npz"
    assert "Recommendation" not in result.stderr


def test_unknown_monitor_is_one_line_listing_the_metrics(tmp_path: Path) -> None:
    log = write_keras_csv(tmp_path / "run.csv", overfitting())
    result = run_cli(["diagnose", str(log), "--monitor", "val_auc"])
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no metric 'val_auc'" in lines[0]
    assert "available: loss, val_loss" in lines[0]
    assert str(log) in lines[0]
    assert result.stdout == ""


def test_monitor_accepts_any_spelling_and_changes_the_mode(tmp_path: Path) -> None:
    log = write_keras_csv(tmp_path / "run.csv", stuck_at_ln10())
    doc = _json(run_cli(["diagnose", str(log), "--json", "--monitor", "val_acc"]))
    assert doc["monitor"]["metric"] == "val_accuracy"
    assert doc["monitor"]["mode"] == "max"


def test_patience_and_min_delta_reach_the_evidence(tmp_path: Path) -> None:
    t = np.arange(40)
    loss = 0.3 + 2.0 * np.exp(-t / 3) - 0.001 * t
    log = tmp_path / "run.csv"
    log.write_text(
        "epoch,loss,val_loss\n" + "".join(f"{i},{v},{v + 0.02}\n" for i, v in enumerate(loss))
    )
    doc = _json(run_cli(["diagnose", str(log), "--json", "--patience", "7", "--min-delta", "0.05"]))
    finding = doc["findings"][0]
    assert finding["kind"] == "plateau"
    assert finding["evidence"]["patience"] == 7
    assert finding["evidence"]["min_delta"] == 0.05
    healthy_doc = _json(run_cli(["diagnose", str(log), "--json"]))
    assert healthy_doc["verdict"] == "healthy"


def test_plot_writes_a_png(tmp_path: Path) -> None:
    log = write_keras_csv(tmp_path / "run.csv", overfitting())
    png = tmp_path / "out" / "curves.png"
    result = run_cli(["diagnose", str(log), "--plot", str(png)])
    assert result.code == 1
    assert png.read_bytes().startswith(b"\x89PNG")
    assert f"Plot written to {png}" in result.stdout.replace("\n", "")


def test_plot_needs_a_png_name(tmp_path: Path) -> None:
    log = write_keras_csv(tmp_path / "run.csv", overfitting())
    result = run_cli(["diagnose", str(log), "--plot", str(tmp_path / "curves.svg")])
    assert result.code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert ".png" in result.stderr


def test_a_missing_log_is_bad_input(tmp_path: Path) -> None:
    result = run_cli(["diagnose", str(tmp_path / "nope.csv")])
    assert result.code == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_real_keras_log_captured_from_training() -> None:
    """The CSVLogger fixture of a small Keras run that overfits after its second epoch."""
    log = FIXTURES / "keras" / "csvlogger.csv"
    result = run_cli(["diagnose", str(log), "--json"])
    doc = _json(result)
    assert result.code == 1
    assert doc["verdict"] == "overfitting"
    restore = next(a for a in doc["recommendation"]["actions"] if a["id"] == "restore-best")
    assert "epoch 2" in restore["text"]
    assert doc["metric_names"]["val_loss"] == "val_loss"
    assert "lr" in doc["metrics"]  # the learning-rate column is kept, not diagnosed
