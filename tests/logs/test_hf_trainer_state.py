"""Hugging Face trainer_state.json from a real Trainer run (tiny random BERT, synthetic data)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from plateau_cli.errors import CorruptFileError
from plateau_cli.logs import read_log

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs"
RUN = FIXTURES / "hf" / "run"


def _log(path: Path) -> list[dict]:
    return json.loads(path.read_text())["log_history"]


def test_eval_per_epoch_and_loss_averaged_over_each_epochs_steps():
    log = _log(RUN / "trainer_state.json")
    read = read_log(RUN / "trainer_state.json")
    history = read.history
    assert read.format == "hf-trainer-state"
    evals = [e for e in log if "eval_loss" in e]
    assert history.epochs["val_loss"].index.tolist() == [int(e["epoch"]) for e in evals]
    assert history.values("val_loss").tolist() == [e["eval_loss"] for e in evals]
    assert history.epochs["val_loss"].original == "eval_loss"
    train = [e for e in log if "loss" in e]
    last_epoch = [e["loss"] for e in train if 7 < e["epoch"] <= 8]
    assert history.values("loss")[-1] == pytest.approx(np.mean(last_epoch))
    # The final summary's run-average train_loss is not a point of the curve.
    summary = next(e for e in log if "train_runtime" in e)
    assert summary["train_loss"] not in history.values("loss").tolist()
    assert len(history.steps["loss"]) == len(train)
    assert "eval_runtime" not in " ".join(history.original_names().values())


def test_run_directory_picks_the_final_state_over_checkpoints():
    read = read_log(RUN)
    assert read.path == RUN / "trainer_state.json"
    assert read.history.n_epochs == 8
    assert read.history.notes[0].startswith("9 candidate logs in")


def test_without_evaluation_the_step_loss_makes_the_epochs():
    history = read_log(FIXTURES / "hf" / "no_eval" / "trainer_state.json").history
    assert history.n_epochs == 8
    assert "val_loss" not in history.metrics
    assert any("logged per step only" in note for note in history.notes)


def test_evaluation_every_n_steps_is_numbered_in_order(tmp_path):
    log = [
        {"epoch": 0.25, "step": 5, "loss": 1.0},
        {"epoch": 0.5, "step": 10, "loss": 0.8},
        {"epoch": 0.5, "step": 10, "eval_loss": 0.9, "eval_runtime": 0.1},
        {"epoch": 0.75, "step": 15, "loss": 0.6},
        {"epoch": 1.0, "step": 20, "loss": 0.4},
        {"epoch": 1.0, "step": 20, "eval_loss": 0.7, "eval_runtime": 0.1},
    ]
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"global_step": 20, "log_history": log}))
    history = read_log(path).history
    assert history.values("val_loss").tolist() == [0.9, 0.7]
    assert history.values("loss").tolist() == [pytest.approx(0.9), pytest.approx(0.5)]
    assert "numbered 1, 2, ... in order" in history.notes[0]


def test_nan_loss_is_kept(tmp_path):
    path = tmp_path / "trainer_state.json"
    path.write_text('{"log_history": [{"epoch": 1.0, "step": 3, "eval_loss": NaN}]}')
    assert math.isnan(read_log(path).history.values("val_loss")[0])


def test_truncated_state_is_a_corrupt_file(tmp_path):
    path = tmp_path / "trainer_state.json"
    path.write_text((RUN / "trainer_state.json").read_text()[:700])
    with pytest.raises(CorruptFileError, match="not valid JSON"):
        read_log(path)


def test_no_log_history_entries_with_numbers(tmp_path):
    path = tmp_path / "trainer_state.json"
    path.write_text('{"log_history": [{"epoch": 1.0, "note": "hi"}, 3]}')
    with pytest.raises(CorruptFileError, match="2 log_history entries, none with an epoch"):
        read_log(path)
