"""Free-form printed lines from a plain torch loop, in the styles people print."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from plateau_cli.errors import UnknownFormatError
from plateau_cli.logs import read_log
from plateau_cli.logs.printed import PrintedLinesReader, parse_line

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs"
TORCH = FIXTURES / "torch"


def _truth() -> dict[str, list[float]]:
    rows = [json.loads(line) for line in (TORCH / "train.jsonl").read_text().splitlines()]
    return {k: [r[k] for r in rows] for k in ("train_loss", "val_loss", "val_acc")}


@pytest.mark.parametrize(
    ("name", "decimals", "metrics"),
    [
        ("printed_colon.log", 4, {"loss", "val_loss", "val_accuracy"}),
        ("printed_brackets.log", 4, {"loss", "val_loss"}),
        ("printed_pipes.log", 4, {"loss", "val_loss", "val_accuracy"}),
        ("printed_tqdm.log", 3, {"loss", "val_loss", "val_accuracy"}),
    ],
)
def test_each_style_gives_the_loop_values(name, decimals, metrics):
    read = read_log(TORCH / name)
    truth = _truth()
    assert read.format == "printed"
    assert set(read.history.metrics) == metrics
    assert read.history.n_epochs == 12
    tolerance = 0.6 * 10.0**-decimals
    assert np.allclose(read.history.values("loss"), truth["train_loss"], atol=tolerance, rtol=0)
    assert np.allclose(read.history.values("val_loss"), truth["val_loss"], atol=tolerance, rtol=0)


def test_tqdm_epochs_from_zero_are_shifted():
    assert read_log(TORCH / "printed_tqdm.log").history.notes == (
        "epochs are counted from 0 in the log: shown from 1",
    )


def test_step_lines_are_averaged_per_epoch():
    lines = (TORCH / "printed_tutorial.log").read_text().splitlines()[1:]
    first_epoch = [float(ln.rsplit(" ", 1)[1]) for ln in lines if ln.startswith("Epoch [1/")]
    history = read_log(TORCH / "printed_tutorial.log").history
    assert history.values("loss")[0] == pytest.approx(np.mean(first_epoch))
    assert len(history.steps["loss"]) == len(lines)


def test_noise_and_a_cut_off_last_line():
    history = read_log(FIXTURES / "messy" / "printed_noisy.log").history
    assert history.n_epochs == 12
    assert history.notes == ("line 16 cut off (training still running?): skipped",)


def test_percent_accuracy_becomes_a_fraction(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(
        "Epoch: 1 Train Loss: 0.9 Val Acc: 61.5%\nEpoch: 2 Train Loss: 0.7 Val Acc: 70%\n"
    )
    assert read_log(path).history.values("val_accuracy").tolist() == [0.615, 0.70]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Epoch 3/50, Loss: 0.4123, Val Acc: 0.87", (3, None, {"Loss": 0.4123, "Val Acc": 0.87})),
        (
            "[epoch 3] train_loss=0.41 val_loss=0.52",
            (3, None, {"train_loss": 0.41, "val_loss": 0.52}),
        ),
        ("epoch 3 | loss 0.41 | val_loss 0.52", (3, None, {"loss": 0.41, "val_loss": 0.52})),
        ("Epoch [2/5], Step [100/600], Loss: 0.2104", (2, 100, {"Loss": 0.2104})),
        ("epoch=4 lr=1e-05 loss=nan", (4, None, {"lr": 1e-05, "loss": float("nan")})),
        ("Epoch 2 took 3.2s", None),
        ("We trained for one epoch and it was fine.", None),
        ("{'loss': '1.051', 'epoch': '3.333'}", None),
    ],
)
def test_parse_line(line, expected):
    parsed = parse_line(line)
    if expected is None:
        assert parsed is None
        return
    assert parsed is not None
    assert parsed[:2] == expected[:2]
    assert parsed[2].keys() == expected[2].keys()
    for key, value in expected[2].items():
        assert parsed[2][key] == pytest.approx(value, nan_ok=True)


def test_prose_is_not_a_log(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text(
        "The first epoch went well.\nIn epoch 2 we changed 3 things.\nlorem 1 ipsum 2\n"
    )
    assert not PrintedLinesReader.sniff(path, path.read_bytes())
    with pytest.raises(UnknownFormatError, match="formats read: tensorboard, hf-trainer-state"):
        read_log(path)
