"""On imbalanced classes `trial` ranks every candidate on validation balanced accuracy (the
yardstick rebalance is judged on), not on validation loss, which rewards betting on the
majority; on balanced classes nothing changes. A real torch model through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.runner import run_cli

torch = pytest.importorskip("torch")


def _npz(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    n = int(len(x) * 0.75)
    np.savez(path, x_train=x[:n], y_train=y[:n], x_val=x[n:], y_val=y[n:])
    return path


def _model(path: Path) -> Path:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    torch.save(model, path)
    return path


def _balanced_accuracy(model: torch.nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        predicted = model(torch.tensor(x)).argmax(1).numpy()
    return float(np.mean([(predicted[y == c] == c).mean() for c in np.unique(y)]))


def _trial(model: Path, data: Path, out: Path) -> dict:
    args = ["trial", str(model), "--data", str(data), "--budget-epochs", "2"]
    args += ["--strategies", "rebalance,lr-decay", "--trust-pickle", "--out", str(out), "--json"]
    result = run_cli(args)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def test_imbalanced_classes_rank_every_candidate_on_balanced_accuracy(tmp_path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 1.3).astype("int64")  # ~10% positives
    data = _npz(tmp_path / "imb.npz", x, y)
    doc = _trial(_model(tmp_path / "m.pt"), data, tmp_path / "trial")
    assert doc["monitor"]["metric"] == "val_balanced_accuracy"
    assert doc["monitor"]["mode"] == "max"
    ran = [c for c in doc["candidates"] if c["report"]]
    assert {c["strategy"] for c in ran} == {"continue", "rebalance", "lr-decay"}
    a = np.load(data)
    for c in ran:
        report = json.loads(Path(c["report"]).read_text())
        assert report["monitor"]["metric"] == "val_balanced_accuracy"
        assert "val_balanced_accuracy" in report["baseline"]
        if c["strategy"] != "rebalance":  # rebalance says it in its own changes
            assert any("imbalanced" in n and "balanced_accuracy" in n for n in report["notes"])
        # The value the race ranked on is the written (best) checkpoint's, recomputed here.
        written = torch.load(report["output"]["path"], weights_only=False)
        expected = _balanced_accuracy(written, a["x_val"], a["y_val"])
        best = report["best"]["metrics"]["val_balanced_accuracy"]
        assert best == pytest.approx(expected, abs=1e-9)
        assert c["best"] == pytest.approx(expected, abs=1e-9)
    assert doc["winner"]["best"] == pytest.approx(max(c["best"] for c in ran))


def test_balanced_classes_keep_validation_loss(tmp_path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    doc = _trial(_model(tmp_path / "m.pt"), _npz(tmp_path / "bal.npz", x, y), tmp_path / "t")
    assert doc["monitor"]["metric"] == "val_loss"
    for c in doc["candidates"]:
        if c["report"]:
            report = json.loads(Path(c["report"]).read_text())
            assert report["monitor"]["metric"] == "val_loss"
            if c["strategy"] != "rebalance":  # which reports it beside, judged on loss here
                assert "val_balanced_accuracy" not in report["best"]["metrics"]
