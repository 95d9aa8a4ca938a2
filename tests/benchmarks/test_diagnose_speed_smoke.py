"""benchmarks/diagnose_speed.py runs end to end on tiny inputs, and what it writes is readable."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from plateau_cli.logs import read_log

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "diagnose_speed.py"


def _load():
    spec = importlib.util.spec_from_file_location("diagnose_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_prints_the_table(capsys):
    assert _load().main(["--rows", "2000", "--rounds", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    header = out.index(next(line for line in out if line.startswith("case")))
    assert out[header].split()[:5] == ["case", "input", "median", "min", "max"]
    rows = [line.split() for line in out[header + 1 :]]
    assert [r[0] for r in rows] == ["csv-steps", "lightning-csv", "tensorboard", "cli-50-epochs"]
    assert all(float(r[-4]) > 0 for r in rows)  # peak MB, read back from the subprocess


def test_generated_inputs_read_as_intended(tmp_path):
    bench = _load()
    bench.write_lightning_csv(tmp_path / "metrics.csv", 3000)
    bench.write_big_events(tmp_path / "events.out.tfevents.1.bench", 3000)
    bench.write_keras_csv(tmp_path / "keras.csv")
    csv_read = read_log(tmp_path / "metrics.csv")
    assert csv_read.format == "lightning-csv"
    assert csv_read.history.n_epochs == 100
    assert len(csv_read.history.steps["loss"]) == 100 * 28
    tb = read_log(tmp_path / "events.out.tfevents.1.bench").history
    assert tb.n_epochs == 100
    assert sum(len(s) for s in tb.steps.values()) + 3 * 100 == 3000 - 3000 % 100
    assert np.isfinite(tb.values("val_loss")).all()
    assert read_log(tmp_path / "keras.csv").history.n_epochs == 50


def test_event_writer_crcs_are_tensorflows(tmp_path):
    """Both CRCs as TensorFlow computes them, so TensorBoard itself would accept the file."""
    from tests.logs.events import masked_crc

    bench = _load()
    path = tmp_path / "events.out.tfevents.1.bench"
    bench.write_events(path, [(1, "loss", 0.5), (22, "val/loss", 0.25)])
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 8], "little")
        payload = data[offset + 12 : offset + 12 + length]
        assert int.from_bytes(data[offset + 8 : offset + 12], "little") == masked_crc(
            data[offset : offset + 8]
        )
        assert int.from_bytes(
            data[offset + 12 + length : offset + 16 + length], "little"
        ) == masked_crc(payload)
        offset += 16 + length
