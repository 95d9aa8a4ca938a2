"""Through the CLI: --data settles the class count; documents and checkpoints exit 2 in one line;
the JSON carries confidence and what the verdict explains."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.e2e.runner import run_cli


def _flat_35_percent_log(path: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    for e in range(20):
        acc, loss = 0.35 + rng.normal(0, 0.004), 1.85 + rng.normal(0, 0.01)
        rows.append(f"{e},{acc:.4f},{loss:.4f},{acc - 0.01:.4f},{loss + 0.02:.4f}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_data_labels_give_the_class_count(tmp_path: Path):
    log = _flat_35_percent_log(tmp_path / "log.csv")
    data = tmp_path / "data.npz"
    x = np.zeros((40, 3), dtype="float32")
    np.savez(data, x_train=x, y_train=np.arange(40) % 10, x_val=x[:10], y_val=np.arange(10))
    result = run_cli(["diagnose", str(log), "--json", "--data", str(data)])
    doc = json.loads(result.stdout)
    sources = {f["evidence"].get("num_classes_source") for f in doc["findings"]}
    assert "the labels in --data" in sources
    assert {f["evidence"].get("num_classes") for f in doc["findings"]} >= {10}
    assert doc["verdict"] != "chance-level"


def test_unreadable_data_is_a_note_not_a_failure(tmp_path: Path):
    log = _flat_35_percent_log(tmp_path / "log.csv")
    result = run_cli(["diagnose", str(log), "--json", "--data", str(tmp_path / "nope.npz")])
    assert result.code in (0, 1)
    assert any("--data" in note for note in json.loads(result.stdout)["notes"])


def test_readme_and_checkpoint_exit_2_with_one_line(tmp_path: Path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\nEpoch 1 loss 0.5\nEpoch 2 loss 0.4\n")
    model = tmp_path / "model.keras"
    model.write_bytes(b"PK\x03\x04" + bytes(100))
    for path, words in ((readme, "not a training log"), (model, "plateau-cli inspect")):
        result = run_cli(["diagnose", str(path)])
        assert result.code == 2
        assert result.stdout == ""
        assert words in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_json_has_confidence_and_explains(tmp_path: Path):
    rows = ["epoch,loss,accuracy,val_loss,val_accuracy", "0,1.8e11,0.1,1.9e11,0.1"]
    rows += [f"{e},{2.3026 + 0.001 * (e % 2):.4f},0.0987,2.3031,0.1" for e in range(1, 20)]
    log = tmp_path / "run.csv"
    log.write_text("\n".join(rows) + "\n")
    doc = json.loads(run_cli(["diagnose", str(log), "--json"]).stdout)
    assert doc["verdict"] == "divergence"
    assert doc["confidence"] == "high"
    assert "no-learning" in doc["explains"]
    assert doc["recommendation"]["strategy"] != "lr-find"
    assert "raise-lr" not in [a["id"] for a in doc["recommendation"]["actions"]]
