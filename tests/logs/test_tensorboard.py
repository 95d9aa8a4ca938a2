"""TensorBoard event files: Keras 3's callback (summary-v2 tensors in train/ and validation/),
torch's SummaryWriter (simple_value, two runs), and hand-framed files damaged on purpose."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from plateau_cli.errors import CorruptFileError, UsageError
from plateau_cli.logs import read_log
from tests.logs.events import record, scalar_event, write_events

FIXTURES = Path(__file__).parents[1] / "fixtures" / "logs"
KERAS_TB = FIXTURES / "keras" / "tensorboard"
TORCH_RUNS = FIXTURES / "torch" / "runs"


def test_keras_callback_run_matches_its_csvlogger():
    read = read_log(KERAS_TB)
    csv = read_log(FIXTURES / "keras" / "csvlogger.csv").history
    assert read.format == "tensorboard"
    assert read.run == "tensorboard"
    assert set(read.history.metrics) == set(csv.metrics)
    # The callback logs the learning rate after ReduceLROnPlateau has changed it, CSVLogger
    # before: the same run, one epoch apart. Compare it shifted.
    assert np.allclose(read.history.values("lr")[:-1], csv.values("lr")[1:], rtol=1e-6)
    for metric in set(csv.metrics) - {"lr"}:  # epoch_* tags, step = epoch index from 0
        assert read.history.epochs[metric].index.tolist() == list(range(1, 13))
        assert np.allclose(read.history.values(metric), csv.values(metric), rtol=1e-6)
    assert set(read.history.steps) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_latest_run_by_default_and_run_option():
    latest = read_log(TORCH_RUNS)
    assert latest.run == "lr_0.01"
    assert latest.runs == ("lr_0.1", "lr_0.01")
    assert latest.history.notes[0] == (
        "2 runs found (lr_0.1, lr_0.01): read 'lr_0.01', the latest (choose with --run)"
    )
    assert latest.history.values("lr")[0] == pytest.approx(0.01)
    other = read_log(TORCH_RUNS, run="lr_0.1")
    assert other.run == "lr_0.1"
    assert other.history.values("lr")[0] == pytest.approx(0.1)
    with pytest.raises(UsageError, match=r"no TensorBoard run 'lr_1'; runs: lr_0\.1, lr_0\.01"):
        read_log(TORCH_RUNS, run="lr_1")


def test_summary_writer_tags_are_named_and_leveled():
    history = read_log(TORCH_RUNS, run="lr_0.1").history
    # Loss/train, Loss/val, Accuracy/val, lr per epoch (0-based steps); train/batch_loss per step
    assert set(history.metrics) == {"loss", "val_loss", "val_accuracy", "lr"}
    assert history.epochs["val_loss"].original == "val_Loss"
    assert history.epochs["val_loss"].index[0] == 1
    assert history.n_epochs == 12
    assert len(history.steps["loss"]) == 72


def test_single_file_with_truncated_last_record(tmp_path):
    source = next((TORCH_RUNS / "lr_0.1").glob("events.out.tfevents.*"))
    path = tmp_path / source.name
    path.write_bytes(source.read_bytes()[:-7])
    history = read_log(path).history
    assert history.n_epochs == 12
    assert any("the last record is incomplete" in n for n in history.notes)


def test_damaged_length_header_stops_reading_there(tmp_path):
    scalars = [(e, "loss/epoch", 1.0 / (e + 1)) for e in range(10)]
    path = write_events(tmp_path / "events.out.tfevents.1.host", scalars)
    data = bytearray(path.read_bytes())
    offset = 0
    for _ in range(6):  # the file_version record and five scalar records
        length = int.from_bytes(data[offset : offset + 8], "little")
        offset += 16 + length
    data[offset + 8] ^= 0xFF  # corrupt the CRC of record 7's length
    path.write_bytes(bytes(data))
    history = read_log(path).history
    assert history.values("loss").tolist() == pytest.approx([1.0 / (e + 1) for e in range(5)])
    assert any("damaged record header at record 7" in n for n in history.notes)


def test_v2_tensor_scalars_with_float_val(tmp_path):
    scalars = [(e, "epoch_loss", 2.0 - e) for e in range(3)]
    path = write_events(tmp_path / "train" / "events.out.tfevents.5.h.v2", scalars, tensor=True)
    write_events(
        tmp_path / "validation" / "events.out.tfevents.5.h.v2",
        [(e, "epoch_loss", 3.0 - e) for e in range(3)],
        tensor=True,
    )
    assert read_log(path).history.values("loss").tolist() == [2.0, 1.0, 0.0]
    history = read_log(tmp_path).history
    assert history.values("val_loss").tolist() == [3.0, 2.0, 1.0]


def test_only_per_step_scalars_are_numbered_in_order(tmp_path):
    path = write_events(
        tmp_path / "events.out.tfevents.1.h", [(s * 50, "loss", 1.0 / (s + 1)) for s in range(4)]
    )
    history = read_log(path).history
    assert history.epochs["loss"].index.tolist() == [1, 2, 3, 4]
    assert "numbered as epochs 1, 2, ... in order" in history.notes[0]


def test_per_epoch_values_at_global_steps(tmp_path):
    scalars = [(s, "train/loss", 1.0) for s in range(0, 400, 2)]
    scalars += [(s, "val/loss", s / 100) for s in (100, 200, 300, 400)]
    history = read_log(write_events(tmp_path / "events.out.tfevents.1.h", scalars)).history
    assert history.values("val_loss").tolist() == [1.0, 2.0, 3.0, 4.0]
    assert history.epochs["val_loss"].index.tolist() == [1, 2, 3, 4]
    assert len(history.steps["loss"]) == 200


def test_garbled_payload_is_reported(tmp_path):
    good = record(scalar_event(0, "loss", 1.0))
    bad = record(b"\xff" * 20)
    path = tmp_path / "events.out.tfevents.1.h"
    path.write_bytes(good + bad + record(scalar_event(1, "loss", 0.5)))
    history = read_log(path).history
    assert history.values("loss").tolist() == [1.0]
    assert any("record 2 cannot be parsed" in n for n in history.notes)


def test_event_files_without_scalars(tmp_path):
    from tensorboard.compat.proto.event_pb2 import Event

    path = tmp_path / "events.out.tfevents.1.h"
    path.write_bytes(record(Event(file_version="brain.Event:2").SerializeToString()))
    with pytest.raises(CorruptFileError, match="without scalar summaries"):
        read_log(path)


def test_reading_event_files_imports_no_framework():
    """The protobuf classes come from the tensorboard package alone."""
    code = (
        "import json, sys; from plateau_cli.logs import read_log; from pathlib import Path;"
        f" read_log(Path({str(KERAS_TB)!r})); read_log(Path({str(TORCH_RUNS)!r}));"
        " print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('tensorflow', 'keras', 'torch', 'tensorboardX', 'tf_keras'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
