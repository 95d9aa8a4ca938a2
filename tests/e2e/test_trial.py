"""`plateau-cli trial` on sample plateaus: the right winner, fewer epochs, files that load."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.e2e.runner import run_cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_models"
SCHEMA = json.loads((ROOT / "schemas" / "trial.schema.json").read_text())
REPORT_SCHEMA = json.loads((ROOT / "schemas" / "report.schema.json").read_text())


def _check_common(doc: dict, out: Path) -> None:
    jsonschema.validate(doc, SCHEMA)
    assert json.loads((out / "trial.json").read_text()) == doc
    assert (out / "trial.png").read_bytes().startswith(b"\x89PNG")
    assert "| candidate |" in (out / "trial.md").read_text()
    control = next(c for c in doc["candidates"] if c["strategy"] == "continue")
    assert control["status"] == "finished"
    assert control["epochs_run"] == doc["budget_epochs"]
    # The winner is never worse than the control.
    assert doc["winner"]["best"] <= control["best"]
    assert doc["epochs_spent"] < doc["epochs_if_every_candidate_ran_the_budget"]
    for c in doc["candidates"]:
        if c["report"]:
            jsonschema.validate(json.loads(Path(c["report"]).read_text()), REPORT_SCHEMA)


@pytest.mark.slow
@pytest.mark.keras
def test_keras_widen_sample(tmp_path):
    out = tmp_path / "trial"
    args = ["trial", str(SAMPLES / "keras" / "widen" / "model.keras")]
    args += ["--data", str(SAMPLES / "data" / "digits.npz"), "--budget-epochs", "4"]
    result = run_cli([*args, "--out", str(out), "--json"])
    assert result.code == 0, result.stderr
    doc = json.loads(result.stdout)
    _check_common(doc, out)
    assert doc["winner"]["strategy"] == "widen"
    assert doc["winner"]["margin_over_control"] > 0
    unfreeze = next(c for c in doc["candidates"] if c["strategy"] == "unfreeze")
    assert unfreeze["status"] == "does not apply"
    assert "every layer already trains" in unfreeze["reason"]
    import keras

    written = keras.models.load_model(out / "model.keras")
    assert written.get_layer("hidden").units == 8  # the winner's widened model


@pytest.mark.slow
@pytest.mark.torch
def test_torch_lr_sample_and_same_seed_same_result(tmp_path):
    docs = []
    for name in ("a", "b"):
        out = tmp_path / name
        args = ["trial", str(SAMPLES / "torch" / "lr" / "checkpoint.pt")]
        args += ["--data", str(SAMPLES / "data" / "digits.npz"), "--budget-epochs", "4"]
        args += ["--strategies", "lr-decay,augment", "--seed", "3"]
        args += ["--model-factory", f"{SAMPLES / 'torch' / 'nets.py'}:mlp"]
        args += ["--factory-arg", "hidden=32", "--factory-arg", "activation=leaky_relu"]
        result = run_cli([*args, "--out", str(out), "--json"])
        assert result.code == 0, result.stderr
        docs.append(json.loads(result.stdout))
        _check_common(docs[-1], out)
    assert docs[0]["winner"]["strategy"] == "lr-decay"
    assert [c["history"] for c in docs[0]["candidates"]] == [
        c["history"] for c in docs[1]["candidates"]
    ]


def test_require_improvement_needs_a_winner_over_the_control(tmp_path):
    pytest.importorskip("keras")
    out = tmp_path / "trial"
    args = ["trial", str(SAMPLES / "keras" / "widen" / "model.keras"), "--strategies", "lr-decay"]
    args += ["--data", str(SAMPLES / "data" / "digits.npz"), "--budget-epochs", "1"]
    result = run_cli([*args, "--out", str(out), "--min-delta", "5", "--require-improvement", "-q"])
    assert result.code == 1, result.stderr
    assert json.loads((out / "trial.json").read_text())["winner"]["control_won"] is True
