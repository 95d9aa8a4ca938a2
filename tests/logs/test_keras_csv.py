"""Keras CSVLogger files: the real one from tests/fixtures/make_logs.py and its damaged copies."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from plateau_cli.errors import CorruptFileError
from plateau_cli.logs import read_log

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs"
CLEAN = FIXTURES / "keras" / "csvlogger.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_real_csvlogger_file_is_read_with_epochs_from_one():
    rows = _rows(CLEAN)
    read = read_log(CLEAN)
    history = read.history
    assert read.format == "keras-csv"
    assert history.n_epochs == len(rows) == 12
    assert set(history.metrics) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert history.epochs["lr"].original == "learning_rate"
    assert history.epochs["loss"].index.tolist() == list(range(1, 13))
    expected = [float(r["val_loss"]) for r in rows]
    assert history.values("val_loss").tolist() == expected
    assert history.notes == ()


def test_cut_off_last_line_is_skipped_with_a_note():
    history = read_log(FIXTURES / "messy" / "keras_cut_off.csv").history
    assert history.n_epochs == 11
    assert history.notes == ("line 13 cut off (training still running?): skipped",)


def test_resumed_run_keeps_the_latest_values():
    rows = _rows(FIXTURES / "messy" / "keras_resumed.csv")
    history = read_log(FIXTURES / "messy" / "keras_resumed.csv").history
    assert history.n_epochs == 12
    # Epoch 7 (0-based 6) was logged twice; the second time (after the restart) wins.
    logged = [float(r["loss"]) for r in rows if r["epoch"] == "6"]
    assert len(logged) == 2
    assert history.values("loss")[6] == logged[1]
    assert "3 epoch(s) logged more than once" in history.notes[0]


def test_nan_and_inf_are_kept():
    history = read_log(FIXTURES / "messy" / "keras_nan_inf.csv").history
    loss = history.values("loss")
    assert math.isinf(loss[8])
    assert math.isnan(loss[9])
    assert np.isfinite(loss[:8]).all()
    assert math.isnan(history.values("val_loss")[9])


def test_bom_and_crlf_read_like_the_clean_file():
    clean = read_log(CLEAN).history
    windows = read_log(FIXTURES / "messy" / "keras_bom_crlf.csv").history
    assert windows.metrics == clean.metrics
    for name in clean.metrics:
        assert windows.values(name).tolist() == clean.values(name).tolist()


def test_non_numeric_cell_is_skipped_and_named():
    history = read_log(FIXTURES / "messy" / "keras_non_numeric.csv").history
    assert history.epochs["loss"].index.tolist() == [1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12]
    assert len(history.values("accuracy")) == 12
    assert history.notes == (
        "1 row(s) with non-numeric values (line 5: loss='n/a'): those values skipped",
    )


def test_pandas_export_with_unnamed_index_column(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text(",loss,val_loss\n0,1.0,1.1\n1,0.8,0.9\n2,0.7,0.95\n")
    history = read_log(path).history
    assert history.epochs["val_loss"].index.tolist() == [1, 2, 3]
    assert history.values("loss").tolist() == [1.0, 0.8, 0.7]


def test_semicolon_separator_and_text_column(tmp_path):
    path = tmp_path / "run.csv"
    path.write_text("epoch;loss;when\n0;0.9;monday\n1;0.7;tuesday\n")
    history = read_log(path).history
    assert history.values("loss").tolist() == [0.9, 0.7]
    assert history.notes == ("column 'when' holds text, not numbers: ignored",)


def test_csv_without_epoch_column_numbers_rows(tmp_path):
    path = tmp_path / "run.csv"
    path.write_text("loss,val_loss\n0.9,1.0\n0.7,0.8\n")
    history = read_log(path).history
    assert history.epochs["loss"].index.tolist() == [1, 2]
    assert "no epoch column" in history.notes[0]


def test_header_only_says_what_it_found(tmp_path):
    path = tmp_path / "run.csv"
    path.write_text("epoch,loss,val_loss\n")
    with pytest.raises(CorruptFileError, match=r"no usable per-epoch metrics \(0 row\(s\)"):
        read_log(path)


def test_epochs_from_one_are_not_shifted(tmp_path):
    path = tmp_path / "run.csv"
    path.write_text("epoch,loss,val_loss\n1,0.9,1.0\n2,0.7,0.8\n")
    assert read_log(path).history.epochs["loss"].index.tolist() == [1, 2]
