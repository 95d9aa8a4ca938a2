"""The --json document: its shape (the contract), and valid JSON whatever the numbers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from plateau_cli.diagnose import to_json
from plateau_cli.diagnose.base import StrategyName
from plateau_cli.diagnose.json_output import json_value
from plateau_cli.history import HistoryBuilder
from tests.diagnose.diagnose_cases import CASES, Case, history, nan_divergence, overfitting, result

TOP_LEVEL = {
    "schema_version",
    "source",
    "metrics",
    "metric_names",
    "epochs",
    "monitor",
    "verdict",
    "confidence",
    "confidence_reason",
    "explains",
    "findings",
    "recommendation",
    "next_command",
    "notes",
}
FINDING = {"kind", "severity", "metric", "epoch_start", "epoch_end", "summary", "evidence"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_document_shape_and_strict_json(case: Case) -> None:
    doc = to_json(result(case.build(), case.options))
    text = json.dumps(doc, allow_nan=False)  # raises on a bare NaN or inf
    assert json.loads(text) == doc
    assert set(doc) == TOP_LEVEL
    assert doc["schema_version"] == 1
    assert doc["verdict"] == doc["findings"][0]["kind"] == case.verdict.value
    for finding in doc["findings"]:
        assert set(finding) == FINDING
        assert finding["severity"] in {"info", "warning", "error"}
        assert finding["evidence"]
    rec = doc["recommendation"]
    assert set(rec) == {"strategy", "reason", "alternatives", "actions"}
    assert rec["strategy"] in {s.value for s in StrategyName}
    for action in rec["actions"]:
        assert set(action) == {"id", "text"}
    assert (doc["next_command"] is None) == (rec["strategy"] == "none")


def test_nan_in_evidence_becomes_a_string() -> None:
    doc = to_json(result(nan_divergence()))
    evidence = doc["findings"][0]["evidence"]
    assert evidence["value"] == "nan"
    assert evidence["epoch"] == 12


def test_numbers_are_plain_and_rounded() -> None:
    assert json_value(np.float64(0.123456789)) == 0.123457
    assert json_value(np.int64(7)) == 7
    assert isinstance(json_value(np.int64(7)), int)
    assert json_value(np.bool_(True)) is True
    assert json_value(math.inf) == "inf"
    assert json_value(-math.inf) == "-inf"
    assert json_value(None) is None
    assert json_value("x") == "x"


def test_metric_names_keep_the_spelling_of_the_log() -> None:
    builder = HistoryBuilder()
    for epoch, (loss, val) in enumerate([(1.0, 1.1), (0.8, 0.9), (0.7, 0.85)], start=1):
        builder.add_epoch(epoch, "train_loss", loss)
        builder.add_epoch(epoch, "Val Loss", val)
    builder.note("line 7 cut off")
    doc = to_json(result(builder.build()))
    assert doc["metrics"] == ["loss", "val_loss"]
    assert doc["metric_names"] == {"loss": "train_loss", "val_loss": "Val Loss"}
    assert doc["notes"] == ["line 7 cut off"]
    assert doc["monitor"] == {"metric": "val_loss", "mode": "min", "min_delta": 0.0}


def test_source_and_next_command() -> None:
    doc = to_json(result(overfitting(), path="logs/run.csv", model="m.keras", data="d.npz"))
    assert doc["source"] == {"path": "logs/run.csv", "format": "keras-csv"}
    assert doc["epochs"] == 40
    assert doc["next_command"] == "plateau-cli resume m.keras --strategy augment --data d.npz"


def test_tensorboard_source_names_the_run() -> None:
    doc = to_json(result(history(loss=[1.0, 0.5, 0.4]), path="runs", fmt="tensorboard"))
    assert doc["source"]["format"] == "tensorboard"
    assert "run" in doc["source"]
