"""The resume pipeline end to end on the numpy test double: decisions, artefacts, promises."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from plateau_cli import registry
from plateau_cli.adapters.base import Adapter, LoadOptions
from plateau_cli.adapters.sniff import Sniffed
from plateau_cli.errors import DataMismatchError, UsageError
from plateau_cli.run.resume import ResumeRequest, run_resume
from plateau_cli.run.trainer import StopReason
from tests.fakes import NumpyHandle, blobs


class NumpyAdapter(Adapter):
    name = "numpy"

    def load(self, path: Path, fmt: str, options: LoadOptions) -> NumpyHandle:
        stored = np.load(path)
        handle = NumpyHandle(stored["w"].shape[0], stored["w"].shape[1], lr=0.5, path=path)
        handle.w, handle.b = stored["w"].copy(), stored["b"].copy()
        return handle

    @staticmethod
    def seed(seed: int) -> None:
        np.random.seed(seed)


@pytest.fixture
def numpy_framework(monkeypatch):
    monkeypatch.setitem(registry.ADAPTERS, "numpy", f"{__name__}:NumpyAdapter")
    for module in ("plateau_cli.run.resume", "plateau_cli.run.resume_continue"):
        monkeypatch.setattr(
            f"{module}.sniff_checkpoint", lambda path: Sniffed("numpy", "numpy-npz")
        )


@pytest.fixture
def model_and_data(tmp_path):
    bundle = blobs()
    data = tmp_path / "data.npz"
    np.savez(
        data,
        x_train=bundle.train.x,
        y_train=bundle.train.y,
        x_val=bundle.val.x,
        y_val=bundle.val.y,
    )
    model = tmp_path / "model.npz"
    rng = np.random.default_rng(1)
    np.savez(model, w=rng.normal(0, 0.01, (8, 3)), b=np.zeros(3))
    return model, data


def _request(model, data, **kwargs):
    return ResumeRequest(model=model, strategy="lr-decay", data=str(data), **kwargs)


def test_writes_every_artefact_and_never_touches_the_input(numpy_framework, model_and_data):
    model, data = model_and_data
    before = model.read_bytes()
    report = run_resume(_request(model, data, epochs=4, patience=None))
    assert model.read_bytes() == before
    out = model.parent / "model-lr-decay"
    assert report.out_dir == out
    assert sorted(p.name for p in out.iterdir()) == [
        "curves.png",
        "history.csv",
        "model.npz",
        "report.json",
        "report.md",
    ]
    doc = json.loads((out / "report.json").read_text())
    assert doc["schema_version"] == 1
    assert doc["input"]["sha256"] == report.input.sha256
    assert doc["output"]["path"] == str(out / "model.npz")
    assert doc["strategy"]["parameters"]["lr"] == pytest.approx(0.05)
    assert doc["changes"][0].startswith("learning rate 0.5 -> 0.05")
    assert doc["epochs_run"] == 4
    assert doc["stopped_reason"] == "completed"
    assert doc["improved"] is True  # the untrained model is easy to beat
    assert doc["best"]["metrics"]["val_loss"] < doc["baseline"]["val_loss"]
    # The written checkpoint holds the best epoch: its evaluation equals best's numbers.
    assert doc["output_metrics"]["val_loss"] == pytest.approx(doc["best"]["metrics"]["val_loss"])
    with open(out / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["epoch"] for r in rows] == ["0", "1", "2", "3"]  # CSVLogger counts from 0
    assert [float(r["lr"]) for r in rows] == pytest.approx([0.05] * 4)
    assert (out / "curves.png").read_bytes().startswith(b"\x89PNG")


def test_second_run_gets_a_new_default_directory(numpy_framework, model_and_data):
    model, data = model_and_data
    first = run_resume(_request(model, data, epochs=1))
    second = run_resume(_request(model, data, epochs=1))
    assert first.out_dir.name == "model-lr-decay"
    assert second.out_dir.name == "model-lr-decay-2"


def test_same_seed_same_numbers(numpy_framework, model_and_data, tmp_path):
    model, data = model_and_data
    a = run_resume(_request(model, data, epochs=3, out=tmp_path / "a"))
    b = run_resume(_request(model, data, epochs=3, out=tmp_path / "b"))
    assert [r.metrics for r in a.history] == [r.metrics for r in b.history]


def test_unknown_monitor_fails_before_writing(numpy_framework, model_and_data):
    model, data = model_and_data
    with pytest.raises(UsageError, match="available: val_accuracy, val_loss"):
        run_resume(_request(model, data, monitor="val_auc"))
    assert not (model.parent / "model-lr-decay").exists()


def test_out_equal_to_input_directory_refused(numpy_framework, model_and_data):
    model, data = model_and_data
    inside = model.parent / "model.npz"
    with pytest.raises(UsageError, match="over the input"):
        run_resume(_request(inside, data, out=model.parent))


def test_data_that_does_not_fit_fails_before_writing(numpy_framework, model_and_data, tmp_path):
    model, _ = model_and_data
    bad = tmp_path / "bad.npz"
    np.savez(
        bad,
        x_train=np.zeros((10, 8), np.float32),
        y_train=np.full(10, 7),
        x_val=np.zeros((5, 8), np.float32),
        y_val=np.zeros(5, int),
    )
    with pytest.raises(DataMismatchError, match="7"):
        run_resume(_request(model, bad))
    assert not (model.parent / "model-lr-decay").exists()


def test_interrupt_writes_checkpoint_and_interrupted_report(
    numpy_framework, model_and_data, monkeypatch
):
    model, data = model_and_data
    from plateau_cli.run import trainer as trainer_module

    original = trainer_module.Trainer.on_epoch_end

    def interrupt_after_epoch_2(self, epoch, logs):
        if epoch == 2:
            self.guard.request("SIGINT")
        return original(self, epoch, logs)

    monkeypatch.setattr(trainer_module.Trainer, "on_epoch_end", interrupt_after_epoch_2)
    report = run_resume(_request(model, data, epochs=6, patience=None))
    assert report.stopped_reason is StopReason.INTERRUPTED
    assert len(report.history) == 2
    doc = json.loads((report.out_dir / "report.json").read_text())
    assert doc["stopped_reason"] == "interrupted"
    assert (report.out_dir / "model.npz").exists()


# -- resume --continue ----------------------------------------------------------------------------


def _interrupt_at(monkeypatch, epoch_to_stop):
    from plateau_cli.run import trainer as trainer_module

    original = trainer_module.Trainer.on_epoch_end

    def interrupt(self, epoch, logs):
        if epoch == epoch_to_stop:
            self.guard.request("SIGINT")
        return original(self, epoch, logs)

    monkeypatch.setattr(trainer_module.Trainer, "on_epoch_end", interrupt)
    return original


def test_continue_goes_on_without_redoing_epochs(numpy_framework, model_and_data, monkeypatch):
    from plateau_cli.run import trainer as trainer_module
    from plateau_cli.run.resume_continue import continue_resume

    model, data = model_and_data
    original = _interrupt_at(monkeypatch, 2)
    first = run_resume(_request(model, data, epochs=6, patience=None, **schedule_options()))
    assert first.stopped_reason is StopReason.INTERRUPTED
    out = first.out_dir
    doc = json.loads((out / "report.json").read_text())
    assert doc["continuation"]["checkpoint"] == ".continue/model.npz"
    assert (out / ".continue" / "model.npz").exists()

    monkeypatch.setattr(trainer_module.Trainer, "on_epoch_end", original)
    second = continue_resume(out)
    assert second.stopped_reason is StopReason.COMPLETED
    assert [r.epoch for r in second.history] == [1, 2, 3, 4, 5, 6]
    assert [r.metrics for r in second.history[:2]] == [r.metrics for r in first.history]
    # The change was not made twice: the step schedule goes on from where it was.
    assert [r.lr for r in second.history] == pytest.approx(
        [0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125]
    )
    assert second.baseline == first.baseline
    assert second.input.sha256 == first.input.sha256
    doc = json.loads((out / "report.json").read_text())
    assert doc["continuation"] is None
    assert doc["epochs_run"] == 6
    assert any("continued after epoch 2 of 6" in e for e in doc["events"])
    assert not (out / ".continue").exists()
    assert doc["output_metrics"]["val_loss"] == pytest.approx(doc["best"]["metrics"]["val_loss"])


def schedule_options():
    return {"strategy_options": {"schedule": "step", "step_size": 2, "gamma": 0.5}}


def test_continue_refuses_a_completed_run(numpy_framework, model_and_data):
    from plateau_cli.run.resume_continue import continue_resume

    model, data = model_and_data
    done = run_resume(_request(model, data, epochs=1))
    with pytest.raises(UsageError, match="nothing to continue"):
        continue_resume(done.out_dir)
