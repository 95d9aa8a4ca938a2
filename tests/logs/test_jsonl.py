"""JSON lines written by a plain torch loop, and damaged copies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plateau_cli.errors import CorruptFileError
from plateau_cli.logs import read_log

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs"
TRAIN = FIXTURES / "torch" / "train.jsonl"


def test_one_object_per_epoch():
    rows = [json.loads(line) for line in TRAIN.read_text().splitlines()]
    read = read_log(TRAIN)
    assert read.format == "jsonl"
    assert read.history.values("val_accuracy").tolist() == [r["val_acc"] for r in rows]
    assert read.history.epochs["loss"].original == "train_loss"
    assert read.history.epochs["loss"].index.tolist() == [r["epoch"] for r in rows]


def test_restarted_run_keeps_the_latest_values_and_says_where():
    history = read_log(FIXTURES / "messy" / "jsonl_restarted.jsonl").history
    assert history.n_epochs == 12
    assert history.notes == (
        "epochs restart at line 9 (epoch 6; a resumed run?): kept the latest values for"
        " repeated epochs",
    )


def test_cut_off_last_line():
    history = read_log(FIXTURES / "messy" / "jsonl_cut_off.jsonl").history
    assert history.n_epochs == 12
    assert history.notes == ("line 13 cut off (training still running?): skipped",)


def test_step_rows_are_averaged_per_epoch():
    history = read_log(FIXTURES / "messy" / "jsonl_steps_only.jsonl").history
    assert history.n_epochs == 6
    assert history.values("loss")[0] == pytest.approx(1.2 - 0.01 * 2)  # mean of steps 0..4
    assert len(history.steps["loss"]) == 30


def test_nested_objects_bad_lines_and_no_epoch_key(tmp_path):
    path = tmp_path / "metrics.log"
    path.write_text(
        '{"train": {"loss": 0.9}, "val": {"loss": 1.0}, "tag": "a"}\n'
        "not json\n"
        '{"train": {"loss": 0.7}, "val": {"loss": 0.8}, "ok": true}\n'
    )
    read = read_log(path)
    assert read.format == "jsonl"
    assert read.history.values("val_loss").tolist() == [1.0, 0.8]
    assert read.history.values("loss").tolist() == [0.9, 0.7]
    assert read.history.notes == (
        "objects without an 'epoch' key: numbered as epochs 1, 2, ... in order",
        "1 line(s) that are not JSON objects skipped (line 2)",
    )


def test_deeply_nested_line_is_a_bad_line_not_a_crash(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text('{"epoch": 1, "loss": 0.5}\n' + "[" * 100_000 + "\n")
    history = read_log(path).history
    assert history.values("loss").tolist() == [0.5]


def test_objects_without_numbers(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text('{"epoch": 1, "loss": 0.5}\n'.replace("0.5", '"x"') * 2)
    with pytest.raises(CorruptFileError):
        read_log(path)
