"""read_log: paths, directories, sniffing by content, and the one-line errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from plateau_cli.errors import BadInputError, CorruptFileError, UnknownFormatError
from plateau_cli.logs import detect_format, read_log, reader_class
from plateau_cli.registry import LOG_READERS

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs"


@pytest.mark.parametrize("name", list(LOG_READERS))
def test_every_registered_reader_resolves_to_its_format(name):
    assert reader_class(name).format == name


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("keras/csvlogger.csv", "keras-csv"),
        ("keras/fit_verbose2.log", "keras-stdout"),
        ("keras/fit_verbose1_tty.log", "keras-stdout"),
        ("lightning/lightning_logs/version_0/metrics.csv", "lightning-csv"),
        ("hf/run/trainer_state.json", "hf-trainer-state"),
        ("torch/train.jsonl", "jsonl"),
        ("torch/printed_colon.log", "printed"),
        ("torch/printed_tutorial.log", "printed"),
    ],
)
def test_format_is_sniffed_from_content_not_the_name(fixture, expected, tmp_path):
    disguised = tmp_path / "run.dat"
    shutil.copy(FIXTURES / fixture, disguised)
    assert detect_format(disguised) == expected


def test_extension_that_lies_does_not_win(tmp_path):
    path = tmp_path / "metrics.csv"
    shutil.copy(FIXTURES / "torch" / "train.jsonl", path)
    assert read_log(path).format == "jsonl"


def test_missing_path():
    with pytest.raises(BadInputError, match=r"^no/such/run\.log: no such file or directory$"):
        read_log(Path("no/such/run.log"))


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf\r\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "run.log"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match="the file is empty"):
        read_log(path)


def test_unknown_format_lists_what_we_read(tmp_path):
    path = tmp_path / "model.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(UnknownFormatError) as caught:
        read_log(path)
    message = str(caught.value)
    assert "\n" not in message
    assert "its name suggests lightning-csv/keras-csv" in message
    assert "formats read: " + ", ".join(LOG_READERS) in message


def test_known_format_without_epochs_says_what_it_found(tmp_path):
    path = tmp_path / "run.log"
    path.write_text("Epoch 1/10\n")
    with pytest.raises(UnknownFormatError):
        read_log(path)
    path.write_text("Epoch 1/10\n3/6 - loss: 0.5\n")
    assert detect_format(path) == "keras-stdout"
    with pytest.raises(CorruptFileError, match="read as keras-stdout, but it holds no usable"):
        read_log(path)


def test_directory_rules(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,loss\n0,0.5\n1,0.4\n")
    (tmp_path / "notes.txt").write_text("hello\n")
    read = read_log(tmp_path)
    assert read.path == tmp_path / "history.csv"
    assert read.history.values("loss").tolist() == [0.5, 0.4]


def test_directory_with_one_log_file_and_run_option_ignored(tmp_path):
    shutil.copy(FIXTURES / "torch" / "train.jsonl", tmp_path / "train.jsonl")
    read = read_log(tmp_path, run="lr_0.1")
    assert read.format == "jsonl"
    assert read.history.notes == ("--run 'lr_0.1' applies to TensorBoard runs only: ignored",)


def test_directory_without_logs(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"PK\x03\x04")
    with pytest.raises(BadInputError, match="no training log found in this directory"):
        read_log(tmp_path)


def test_directory_prefers_event_files(tmp_path):
    shutil.copytree(FIXTURES / "torch" / "runs", tmp_path / "runs")
    shutil.copy(FIXTURES / "torch" / "train.jsonl", tmp_path / "train.jsonl")
    read = read_log(tmp_path)
    assert read.format == "tensorboard"
    assert read.run == "runs/lr_0.01"
