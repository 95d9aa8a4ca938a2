"""`plateau-cli diagnose FIXTURE --json` for every log format, in-process through `cli.main`.

The fixtures are what real Keras, torch, Lightning and Hugging Face trainings wrote
(tests/fixtures/make_logs.py). The assertions are on the JSON contract of DESIGN.md: the format
name, the metric list, the epoch count, the numbers, and the exit status that goes with the
findings.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.e2e.runner import CliResult, run_cli

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs"
KERAS_METRICS = ["accuracy", "loss", "lr", "val_accuracy", "val_loss"]


def _diagnose(target: Path, *options: str) -> tuple[CliResult, dict]:
    result = run_cli(["diagnose", str(target), "--json", *options])
    assert result.code in (0, 1), result.stderr
    return result, json.loads(result.stdout)


def _keras_csv() -> list[dict[str, str]]:
    with (FIXTURES / "keras" / "csvlogger.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("fixture", "format_name", "metrics", "epochs"),
    [
        ("keras/csvlogger.csv", "keras-csv", KERAS_METRICS, 12),
        ("keras/fit_verbose2.log", "keras-stdout", KERAS_METRICS, 12),
        ("keras/fit_verbose1_tty.log", "keras-stdout", KERAS_METRICS, 12),
        ("keras/fit_verbose1_pipe.log", "keras-stdout", KERAS_METRICS, 12),
        ("keras/tensorboard", "tensorboard", KERAS_METRICS, 12),
        ("torch/runs", "tensorboard", ["loss", "lr", "val_accuracy", "val_loss"], 12),
        ("lightning", "lightning-csv", ["loss", "val_accuracy", "val_loss"], 12),
        ("hf/run", "hf-trainer-state", ["grad_norm", "loss", "lr", "val_loss"], 8),
        ("hf/no_eval/trainer_state.json", "hf-trainer-state", ["grad_norm", "loss", "lr"], 8),
        ("torch/train.jsonl", "jsonl", ["loss", "lr", "val_accuracy", "val_loss"], 12),
        ("torch/printed_colon.log", "printed", ["loss", "val_accuracy", "val_loss"], 12),
        ("torch/printed_brackets.log", "printed", ["loss", "val_loss"], 12),
        ("torch/printed_pipes.log", "printed", ["loss", "val_accuracy", "val_loss"], 12),
        ("torch/printed_tqdm.log", "printed", ["loss", "val_accuracy", "val_loss"], 12),
        ("torch/printed_tutorial.log", "printed", ["loss"], 12),
    ],
)
def test_every_format_through_the_cli(fixture, format_name, metrics, epochs):
    result, doc = _diagnose(FIXTURES / fixture)
    assert doc["schema_version"] == 1
    assert doc["source"]["format"] == format_name
    assert sorted(doc["metrics"]) == metrics
    assert doc["epochs"] == epochs
    assert result.code == (1 if any(f["severity"] != "info" for f in doc["findings"]) else 0)
    expected_monitor = "val_loss" if "val_loss" in metrics else "loss"
    assert doc["monitor"]["metric"] == expected_monitor


@pytest.mark.parametrize(
    "fixture", ["keras/csvlogger.csv", "keras/fit_verbose2.log", "keras/tensorboard"]
)
def test_keras_run_is_seen_as_overfitting_from_the_same_epoch_in_every_format(fixture):
    """The run's val_loss is lowest at epoch 2 and rises after; every format must agree."""
    rows = _keras_csv()
    best = min(range(len(rows)), key=lambda i: float(rows[i]["val_loss"])) + 1
    assert best == 2
    _, doc = _diagnose(FIXTURES / fixture, "--monitor", "val_loss")
    kinds = {f["kind"]: f for f in doc["findings"]}
    assert "overfitting" in kinds, doc["findings"]
    restore = [a for a in doc["recommendation"]["actions"] if a["id"] == "restore-best"]
    assert restore
    assert "epoch 2" in restore[0]["text"]


def test_original_names_and_notes_are_in_the_json():
    _, doc = _diagnose(FIXTURES / "lightning")
    assert doc["metric_names"]["loss"] == "train_loss_epoch"
    assert doc["metric_names"]["val_accuracy"] == "val_acc"
    assert doc["source"]["path"].endswith("version_0/metrics.csv")
    assert any("step-level values" in note for note in doc["notes"])


def test_tensorboard_run_choice_is_in_the_source():
    _, doc = _diagnose(FIXTURES / "torch" / "runs", "--run", "lr_0.1")
    assert doc["source"]["run"] == "lr_0.1"
    assert doc["source"]["runs"] == ["lr_0.1", "lr_0.01"]


@pytest.mark.parametrize(
    ("fixture", "note"),
    [
        ("messy/keras_cut_off.csv", "line 13 cut off (training still running?): skipped"),
        ("messy/keras_resumed.csv", "3 epoch(s) logged more than once (a resumed run?)"),
        ("messy/keras_non_numeric.csv", "1 row(s) with non-numeric values (line 5: loss='n/a')"),
        ("messy/keras_tty_in_progress.log", "epoch 12 still in progress (step 1/6): skipped"),
        ("messy/jsonl_restarted.jsonl", "epochs restart at line 9 (epoch 6; a resumed run?)"),
        ("messy/lightning_steps_only.csv", "loss: logged per step only"),
    ],
)
def test_repairs_are_said_in_the_notes(fixture, note):
    _, doc = _diagnose(FIXTURES / fixture)
    assert any(n.startswith(note) for n in doc["notes"]), doc["notes"]


def test_diverged_run_is_reported_with_the_epoch():
    _, doc = _diagnose(FIXTURES / "messy" / "keras_nan_inf.csv")
    assert doc["epochs"] == 10
    divergence = [f for f in doc["findings"] if f["kind"] == "divergence"]
    assert divergence
    assert divergence[0]["epoch_start"] == 9


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (None, "missing.log", "no such file or directory"),
        (b"", "empty.log", "the file is empty"),
        (b"\x00\x01\x02 binary junk \xff", "junk.bin", "not a training log format"),
        (b"epoch,loss\n", "header.csv", "no usable per-epoch metrics"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, content, name, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = run_cli(["diagnose", str(path), "--json"])
    assert result.code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]
