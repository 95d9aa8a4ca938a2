"""The baseline's training loss is measured on a seeded sample unless asked for all of it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from plateau_cli.adapters.base import LoadOptions  # noqa: E402
from plateau_cli.run.baseline_sample import TRAIN_EVAL_SAMPLE  # noqa: E402
from plateau_cli.run.resume import ResumeRequest, run_resume  # noqa: E402

pytestmark = pytest.mark.torch

SAMPLES = Path(__file__).resolve().parents[3] / "sample_models"
FACTORY = {
    "model_factory": f"{SAMPLES / 'torch' / 'nets.py'}:mlp",
    "factory_args": {"hidden": 32, "activation": "leaky_relu"},
}


@pytest.fixture(scope="module")
def doubled(tmp_path_factory) -> Path:
    """digits with its training set twice over: 2874 rows, more than the sample."""
    arrays = np.load(SAMPLES / "data" / "digits.npz")
    path = tmp_path_factory.mktemp("data") / "doubled.npz"
    np.savez(
        path,
        x_train=np.concatenate([arrays["x_train"]] * 2),
        y_train=np.concatenate([arrays["y_train"]] * 2),
        x_val=arrays["x_val"],
        y_val=arrays["y_val"],
    )
    return path


def _report(data: Path, out: Path, **kwargs) -> dict:
    request = ResumeRequest(
        model=SAMPLES / "torch" / "lr" / "checkpoint.pt",
        strategy="lr-decay",
        data=str(data),
        epochs=1,
        patience=None,
        out=out,
        load=LoadOptions(**FACTORY),
        **kwargs,
    )
    run_resume(request)
    return json.loads((out / "report.json").read_text())


def test_sampled_by_default_and_full_when_asked(doubled, tmp_path):
    sampled = _report(doubled, tmp_path / "a")
    assert sampled["baseline_train_eval"] == {
        "samples": TRAIN_EVAL_SAMPLE,
        "of": 2874,
        "sampled": True,
    }
    assert "on a seeded sample of 2048 of the 2874" in (tmp_path / "a" / "report.md").read_text()
    full = _report(doubled, tmp_path / "b", full_train_eval=True)
    assert full["baseline_train_eval"] == {"samples": 2874, "sampled": False}
    # The sample estimates the same mean loss; validation is measured on all of it either way.
    assert sampled["baseline"]["loss"] == pytest.approx(full["baseline"]["loss"], rel=0.1)
    assert sampled["baseline"]["loss"] != full["baseline"]["loss"]
    assert sampled["baseline"]["val_loss"] == full["baseline"]["val_loss"]
    again = _report(doubled, tmp_path / "c")  # seeded: the same sample every time
    assert again["baseline"]["loss"] == sampled["baseline"]["loss"]


def test_a_small_training_set_is_measured_whole(tmp_path):
    report = _report(SAMPLES / "data" / "digits.npz", tmp_path / "a")
    assert report["baseline_train_eval"] == {"samples": 1437, "sampled": False}
