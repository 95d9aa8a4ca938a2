"""Lightning's CSVLogger metrics.csv: interleaved step and epoch rows."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from plateau_cli.logs import read_log

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs"
METRICS = FIXTURES / "lightning" / "lightning_logs" / "version_0" / "metrics.csv"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_real_metrics_csv_splits_epoch_and_step_rows():
    rows = _rows(METRICS)
    read = read_log(METRICS)
    history = read.history
    assert read.format == "lightning-csv"
    assert history.n_epochs == 12
    assert set(history.metrics) == {"loss", "val_loss", "val_accuracy"}
    assert history.epochs["loss"].original == "train_loss_epoch"
    assert history.epochs["val_accuracy"].original == "val_acc"
    epoch_loss = [float(r["train_loss_epoch"]) for r in rows if r["train_loss_epoch"]]
    assert history.values("loss").tolist() == epoch_loss
    step_rows = [r for r in rows if r["train_loss_step"]]
    assert history.steps["loss"].index.tolist() == [int(r["step"]) for r in step_rows]
    assert history.notes == (
        f"step-level values ({len(step_rows)}) kept separately from the per-epoch series",
    )


def test_directory_reads_the_highest_version(tmp_path):
    for version, loss in ((0, "0.9"), (2, "0.5"), (10, "0.1")):
        folder = tmp_path / "lightning_logs" / f"version_{version}"
        folder.mkdir(parents=True)
        (folder / "metrics.csv").write_text(f"epoch,step,val_loss\n0,5,{loss}\n")
    read = read_log(tmp_path)
    assert read.path == tmp_path / "lightning_logs" / "version_10" / "metrics.csv"
    assert read.history.values("val_loss").tolist() == [0.1]
    assert "3 candidate logs" in read.history.notes[0]


def test_steps_only_are_averaged_per_epoch():
    path = FIXTURES / "messy" / "lightning_steps_only.csv"
    rows = _rows(path)
    history = read_log(path).history
    by_epoch: dict[int, list[float]] = {}
    for r in rows:
        by_epoch.setdefault(int(r["epoch"]) + 1, []).append(float(r["train_loss_step"]))
    assert history.epochs["loss"].index.tolist() == sorted(by_epoch)
    expected = [np.mean(by_epoch[e]) for e in sorted(by_epoch)]
    assert np.allclose(history.values("loss"), expected, rtol=0, atol=1e-12)
    assert any("logged per step only" in n for n in history.notes)


def test_cut_off_last_row_is_noted():
    history = read_log(FIXTURES / "messy" / "lightning_cut_off.csv").history
    assert history.n_epochs == 12
    assert history.notes[0] == "line 61 cut off (training still running?): skipped"


def test_fast_and_careful_paths_agree(tmp_path):
    """A quoted header cell forces the row-by-row path; the result must not change."""
    text = METRICS.read_text()
    careful = tmp_path / "metrics.csv"
    quoted = text.splitlines()
    quoted[3] = quoted[3].replace(",,", ',"",', 1)
    careful.write_text("\n".join(quoted) + "\n")
    fast, slow = read_log(METRICS).history, read_log(careful).history
    for name in fast.metrics:
        assert slow.values(name).tolist() == fast.values(name).tolist()
    assert slow.steps["loss"].values.tolist() == fast.steps["loss"].values.tolist()


def test_nan_logged_in_a_cell_is_not_a_blank(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text(
        "epoch,step,train_loss_epoch,val_loss\n0,9,0.5,\n0,9,,0.6\n1,19,nan,\n1,19,,0.7\n"
    )
    history = read_log(path).history
    assert np.isnan(history.values("loss")[1])
    assert history.values("val_loss").tolist() == [0.6, 0.7]
