"""Logs in UTF-16 and other languages are read; checkpoints and documents are refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from plateau_cli.errors import BadInputError
from plateau_cli.logs import read_log

CSV = "epoch,loss,val_loss\n0,1.0,1.1\n1,0.8,0.9\n2,0.7,0.85\n"
FRENCH = "".join(
    f"Époque {e}/50 - perte: {1.0 - e / 10:.2f} - précision: {0.5 + e / 20:.2f}\n"
    for e in range(1, 5)
)
CHINESE = "".join(
    f"第 {e}/50 轮 训练 loss: {1.0 - e / 10:.2f} 准确率 accuracy: {0.5 + e / 20:.2f}\n"
    for e in range(1, 5)
)
MNIST = """Train Epoch: 1 [0/60000 (0%)]\tLoss: 2.300000
Train Epoch: 1 [640/60000 (1%)]\tLoss: 1.100000

Test set: Average loss: 0.1000, Accuracy: 9700/10000 (97%)

Train Epoch: 2 [0/60000 (0%)]\tLoss: 0.300000
Train Epoch: 2 [640/60000 (1%)]\tLoss: 0.200000

Test set: Average loss: 0.0341, Accuracy: 9887/10000 (99%)
"""


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-8-sig"])
def test_csv_in_any_unicode_encoding(tmp_path: Path, encoding: str):
    path = tmp_path / "training.log"
    path.write_bytes(CSV.encode(encoding))
    read = read_log(path)
    assert read.path == path
    assert read.history.values("val_loss").tolist() == [1.1, 0.9, 0.85]
    if encoding.startswith("utf-16"):
        assert any("UTF-16" in note for note in read.history.notes)


def test_printed_lines_in_utf16_with_bom(tmp_path: Path):
    path = tmp_path / "out.txt"
    path.write_bytes(FRENCH.encode("utf-16"))
    history = read_log(path).history
    assert history.values("loss").tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])


@pytest.mark.parametrize("text", [FRENCH, CHINESE])
def test_lines_in_other_languages(tmp_path: Path, text: str):
    path = tmp_path / "train.log"
    path.write_text(text, encoding="utf-8")
    history = read_log(path).history
    assert history.n_epochs == 4
    assert history.values("loss").tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])
    assert history.values("accuracy").tolist() == pytest.approx([0.55, 0.6, 0.65, 0.7])


def test_pytorch_examples_test_set_lines_are_validation_metrics(tmp_path: Path):
    path = tmp_path / "mnist.log"
    path.write_text(MNIST)
    history = read_log(path).history
    assert history.values("val_loss").tolist() == [0.1, 0.0341]
    assert history.values("val_accuracy").tolist() == [0.97, 0.9887]
    assert any("Test set" in note for note in history.notes)


def test_checkpoint_lines_do_not_overwrite_an_epoch(tmp_path: Path):
    path = tmp_path / "train.log"
    path.write_text(
        "Epoch [001/3] TrainLoss=1.8 ValLoss=1.3\nEpoch [002/3] TrainLoss=1.5 ValLoss=1.2\n"
        "Epoch [003/3] TrainLoss=1.4 ValLoss=1.25\n"
        "[Checkpoint] Loaded best model (epoch=2, val_loss=9.99)\n"
    )
    history = read_log(path).history
    assert history.values("val_loss").tolist() == [1.3, 1.2, 1.25]
    assert history.values("loss").tolist() == [1.8, 1.5, 1.4]


def test_markdown_is_refused_in_one_line(tmp_path: Path):
    path = tmp_path / "README.md"
    path.write_text("# Project\n\nEpoch 1 loss 0.5\n\n1. Epoch 2: loss 0.4\n")
    with pytest.raises(BadInputError, match="not a training log") as info:
        read_log(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "head", "what"),
    [
        ("model.keras", b"PK\x03\x04" + b"\x00" * 60, "Keras .keras archive"),
        ("model.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 60, "HDF5"),
        ("model.pt", b"PK\x03\x04" + b"\x00" * 60, "zipped checkpoint"),
        ("model.pth", b"\x80\x02" + b"\x00" * 60, "pickled torch"),
        ("model.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{}" + b" " * 20, "safetensors"),
    ],
)
def test_a_checkpoint_is_named_and_inspect_suggested(tmp_path: Path, name, head, what):
    path = tmp_path / name
    path.write_bytes(head)
    with pytest.raises(BadInputError, match=what) as info:
        read_log(path)
    assert "plateau-cli inspect" in str(info.value)
