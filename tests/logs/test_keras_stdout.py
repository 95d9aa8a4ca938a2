"""Keras `model.fit` stdout, captured for real: verbose=2, and verbose=1 through a terminal and a
pipe (progress bars with \\b, \\r and ANSI codes), plus cut-off and hand-made tf.keras 2 text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plateau_cli.logs import read_log

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs"
KERAS = FIXTURES / "keras"


@pytest.mark.parametrize(
    "name", ["fit_verbose2.log", "fit_verbose1_tty.log", "fit_verbose1_pipe.log"]
)
def test_stdout_matches_the_csvlogger_of_the_same_run(name):
    raw = (KERAS / name).read_bytes()
    if name != "fit_verbose2.log":
        # A real progress bar: backspaces, carriage returns and ANSI codes.
        assert b"\x08" in raw
        assert b"\r" in raw
        assert b"\x1b[" in raw
    read = read_log(KERAS / name)
    csv = read_log(KERAS / "csvlogger.csv").history
    assert read.format == "keras-stdout"
    assert set(read.history.metrics) == set(csv.metrics)
    for metric in csv.metrics:
        # stdout prints 4 decimals; the CSV has full precision.
        assert np.allclose(read.history.values(metric), csv.values(metric), atol=5e-5, rtol=0)
    assert read.history.notes == ()


def test_tensorflow_noise_on_the_same_stream_is_ignored():
    assert b"oneDNN" in (KERAS / "fit_verbose2.log").read_bytes()
    assert read_log(KERAS / "fit_verbose2.log").history.n_epochs == 12


def test_epoch_without_its_line_yet():
    history = read_log(FIXTURES / "messy" / "keras_stdout_cut_off.log").history
    assert history.n_epochs == 11
    assert history.notes == ("epoch 12 has no metrics yet (training still running?): skipped",)


def test_progress_bar_mid_epoch_is_not_an_epoch():
    history = read_log(FIXTURES / "messy" / "keras_tty_in_progress.log").history
    assert history.n_epochs == 11
    assert history.notes == ("epoch 12 still in progress (step 1/6): skipped",)


def test_line_cut_mid_way_is_dropped(tmp_path):
    text = (KERAS / "fit_verbose2.log").read_text()
    cut = text[: text.rindex(" - val_accuracy")]
    path = tmp_path / "run.log"
    path.write_text(cut)
    history = read_log(path).history
    assert history.n_epochs == 11
    assert history.notes == ("epoch 12's line cut off (training still running?): skipped",)


def test_evaluate_after_fit_does_not_overwrite_the_last_epoch(tmp_path):
    text = (KERAS / "fit_verbose2.log").read_text()
    path = tmp_path / "run.log"
    path.write_text(text + "2/2 - 0s - 3ms/step - accuracy: 0.1000 - loss: 9.9000\n")
    assert read_log(path).history.values("loss")[-1] == pytest.approx(0.3919)


def test_tf_keras_2_format(tmp_path):
    """tf.keras 2.x verbose=1 final lines (hand-made from its Progbar format)."""
    bar = "=" * 30
    lines = []
    for epoch, (loss, val) in enumerate([(0.69, 0.68), (0.52, 0.55), (0.41, 0.50)], 1):
        lines.append(f"Epoch {epoch}/3")
        lines.append(
            f" 1/32 [>{'.' * 29}] - ETA: 10s - loss: 0.7000 - accuracy: 0.5000\x08\x08\x08\r"
            f"32/32 [{bar}] - 1s 4ms/step - loss: {loss:.4f} - accuracy: 0.7000"
            f" - val_loss: {val:.4f} - val_accuracy: 0.6500"
        )
    path = tmp_path / "train.out"
    path.write_text("\n".join(lines) + "\n")
    read = read_log(path)
    assert read.format == "keras-stdout"
    assert read.history.values("val_loss").tolist() == [0.68, 0.55, 0.50]
