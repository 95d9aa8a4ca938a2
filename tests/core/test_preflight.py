"""Mistakes the files already show are refused before any framework is imported."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from plateau_cli.adapters.sniff import KERAS_V3, Sniffed
from plateau_cli.data import parse_data_spec
from plateau_cli.errors import DataMismatchError, StrategyNotApplicableError
from plateau_cli.run.preflight import preflight

ROOT = Path(__file__).resolve().parents[2]
KERAS = Sniffed("keras", KERAS_V3)


def _keras(path: Path, input_shape: list, frozen: bool = False) -> Path:
    layer = {"class_name": "Dense", "config": {"name": "d", "trainable": not frozen}}
    config = {
        "class_name": "Sequential",
        "config": {"layers": [layer]},
        "build_config": {"input_shape": input_shape},
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
    return path


def _npz(path: Path, shape: tuple[int, ...]) -> Path:
    np.savez(path, x_train=np.zeros(shape, np.float32), y_train=np.zeros(shape[0], np.int64),
             x_val=np.zeros(shape, np.float32), y_val=np.zeros(shape[0], np.int64))  # fmt: skip
    return path


def _spec(path: Path):
    return parse_data_spec(str(path), target=None, val_split=None, seed=0)


def test_wrong_feature_shape_is_refused_from_the_headers(tmp_path):
    model = _keras(tmp_path / "m.keras", [None, 64])
    data = _npz(tmp_path / "d.npz", (10, 8, 8, 1))
    with pytest.raises(DataMismatchError) as caught:
        preflight(model, KERAS, _spec(data), "lr-decay")
    assert caught.value.message == (
        f"{data}: features have shape (8, 8, 1) per sample but the model's input is (64,)"
        " (same number of values: reshape to (10, 64))"
    )


@pytest.mark.parametrize(
    ("input_shape", "data_shape"),
    [([None, 64], (10, 64)), ([None, None], (10, 5)), ([None, 8, 8, 1], (10, 8, 8, 1))],
)
def test_fitting_or_undecidable_shapes_pass(tmp_path, input_shape, data_shape):
    model = _keras(tmp_path / "m.keras", input_shape)
    preflight(model, KERAS, _spec(_npz(tmp_path / "d.npz", data_shape)), "lr-decay")


def test_unfreeze_needs_a_frozen_layer_in_the_configuration(tmp_path):
    data = _spec(_npz(tmp_path / "d.npz", (10, 64)))
    with pytest.raises(StrategyNotApplicableError, match="every layer already trains"):
        preflight(_keras(tmp_path / "m.keras", [None, 64]), KERAS, data, "unfreeze")
    preflight(_keras(tmp_path / "f.keras", [None, 64], frozen=True), KERAS, data, "unfreeze")
    preflight(_keras(tmp_path / "m2.keras", [None, 64]), KERAS, data, "widen")


def test_a_damaged_archive_is_left_to_the_loader(tmp_path):
    broken = tmp_path / "m.keras"
    broken.write_bytes(b"PK\x03\x04 not really")
    preflight(broken, KERAS, _spec(_npz(tmp_path / "d.npz", (10, 3))), "unfreeze")


@pytest.mark.parametrize(
    ("data", "strategy", "words"),
    [
        ("digits_images.npz", "lr-decay", "features have shape (8, 8, 1) per sample"),
        ("digits.npz", "unfreeze", "every layer already trains"),
    ],
)
def test_the_cli_refuses_without_importing_a_framework(tmp_path, data, strategy, words):
    model = ROOT / "sample_models" / "keras" / "lr" / "model.keras"
    argv = ["resume", str(model), "--strategy", strategy, "--data"]
    argv += [str(ROOT / "sample_models" / "data" / data), "--out", str(tmp_path / "o")]
    script = (
        "import sys\nfrom plateau_cli.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit as e:\n    print('exit', e.code)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " ('tensorflow', 'keras', 'torch')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.stdout.splitlines() == ["exit 2", "[]"], result.stderr
    assert words in result.stderr
    assert not (tmp_path / "o").exists()
