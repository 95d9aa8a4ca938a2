"""`inspect --data` counts dead ReLU units (FINDINGS §2) and evaluates both splits."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.e2e.runner import run_cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_models"
SCHEMA = json.loads((ROOT / "schemas" / "inspect.schema.json").read_text())
DATA = str(SAMPLES / "data" / "digits.npz")
CASES = {
    "keras": [str(SAMPLES / "keras" / "dead" / "model.keras")],
    "torch": [
        str(SAMPLES / "torch" / "dead" / "checkpoint.pt"),
        "--model-factory",
        f"{SAMPLES / 'torch' / 'nets.py'}:mlp",
    ],
}


@pytest.mark.parametrize("framework", ["keras", "torch"])
def test_dead_units_of_the_dead_sample(framework):
    pytest.importorskip("keras" if framework == "keras" else "torch")
    result = run_cli(["inspect", *CASES[framework], "--data", DATA, "--json"])
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    jsonschema.validate(document, SCHEMA)
    units = document["data"]["dead_units"]
    assert [(u["units"], u["dead"]) for u in units] == [(64, 61)]  # as FINDINGS §2 measured
    assert 0.3 < document["data"]["val"]["accuracy"] < 0.45


def test_people_see_what_dead_units_mean():
    pytest.importorskip("keras")
    result = run_cli(["inspect", *CASES["keras"], "--data", DATA])
    assert result.code == 0, result.stderr
    assert "61 of 64 units dead (95%)" in result.stdout
    assert "no learning rate revives them" in result.stdout


def test_without_data_there_is_no_data_section():
    pytest.importorskip("keras")
    result = run_cli(["inspect", *CASES["keras"], "--json"])
    assert json.loads(result.stdout)["data"] is None


def test_bad_data_fails_before_loading_the_model(tmp_path):
    result = run_cli(["inspect", *CASES["keras"], "--data", str(tmp_path / "none.npz")])
    assert result.code == 2
    assert len(result.stderr.strip().splitlines()) == 1
