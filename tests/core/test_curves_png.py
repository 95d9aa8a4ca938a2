"""curves.png as Pillow draws it: the panels, sizes and colours a person looks at, ticks on round
numbers, and no matplotlib import; and the validation passes a resume no longer repeats."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from plateau_cli.report import raster_chart as chart
from plateau_cli.report.curves import write_curves
from plateau_cli.run.final_metrics import measured_output
from plateau_cli.run.resume import run_resume
from plateau_cli.run.trainer import EpochRecord, TrainerState
from tests.core.test_resume_pipeline import _request, model_and_data, numpy_framework  # noqa: F401
from tests.fakes import NumpyHandle


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def _has(pixels: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(np.all(pixels == np.array(colour, dtype=np.uint8), axis=-1).sum())


def test_one_panel_per_metric_in_the_figure_size_and_colours_of_before(
    numpy_framework,  # noqa: F811
    model_and_data,  # noqa: F811
):
    model, data = model_and_data
    report = run_resume(_request(model, data, epochs=4, patience=None))
    pixels = _pixels(report.out_dir / "curves.png")
    assert pixels.shape == (520, 700, 3)  # loss and accuracy: 2 x 2.6 inches at 100 dpi
    assert _has(pixels, chart.BLUE) > 50  # training
    assert _has(pixels, chart.ORANGE) > 50  # validation
    r, g, b = (pixels[..., k].astype(int) for k in range(3))
    assert int(((g - np.maximum(r, b)) > 40).sum()) > 20  # the best epoch's (dotted) green rule
    assert _has(pixels, chart.PURPLE) == 0  # a constant rate is in the title, not a panel
    with_rates = replace(
        report, history=tuple(replace(r, lr=0.1 / 2**r.epoch) for r in report.history)
    )
    write_curves(report.out_dir / "rates.png", with_rates)
    pixels = _pixels(report.out_dir / "rates.png")
    assert pixels.shape == (630, 700, 3)  # plus the 1.1-inch learning-rate strip
    assert _has(pixels, chart.PURPLE) > 20


def test_a_range_test_gets_its_own_panel_and_gaps_stay_gaps(tmp_path):
    record = EpochRecord(1, 0.01, {"loss": 0.5, "val_loss": float("nan")})
    report = SimpleNamespace(
        history=(record, replace(record, epoch=2, metrics={"loss": 0.4, "val_loss": 0.6})),
        events=(),
        auto=None,
        strategy="lr-find",
        baseline={"val_loss": 0.7},
        best_epoch=2,
        outcome=SimpleNamespace(
            details={
                "range_test": {
                    "lr": [1e-5, 1e-4, 1e-3, 1e-2],
                    "loss": [1.0, 0.9, 0.7, 3.0],
                    "smoothed_loss": [1.0, 0.95, 0.8, None],
                    "restored_lr": 1e-4,
                    "suggested_lr": 1e-3,
                }
            }
        ),
    )
    write_curves(tmp_path / "curves.png", report)  # type: ignore[arg-type]
    assert _pixels(tmp_path / "curves.png").shape == (520, 700, 3)  # 2.6 + 2.6 inches


def test_ticks_fall_on_round_numbers():
    assert chart.nice_ticks(0.13, 0.28) == [0.15, 0.2, 0.25]
    assert [chart.tick_label(v, [0.15, 0.2, 0.25], False) for v in (0.15, 0.2)] == [
        "0.15",
        "0.20",
    ]
    assert chart.nice_ticks(0.05, 20.95, most=8, integer=True) == [5, 10, 15, 20]
    assert chart.nice_ticks(0.5, 1.5, most=8, integer=True) == [1]  # one epoch: "1", not 0.95
    assert chart.log_ticks(1e-6, 1.0) == [1e-6, 1e-4, 1e-2, 1.0]
    assert chart.log_ticks(2e-4, 9e-4) == [2e-4, 5e-4]
    assert chart.tick_label(2.5e7, [2e7, 2.5e7], False) == "2.5e+07"


def test_curves_png_imports_no_matplotlib(tmp_path):
    code = (
        "import sys; from plateau_cli.report import raster_chart as c;"
        f" c.render({str(tmp_path / 'x.png')!r}, 't',"
        " [c.Panel([c.Series([1, 2], [1, 2], c.BLUE)])], height=260);"
        " print(sorted(m for m in sys.modules if m.startswith('matplotlib')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
    assert _pixels(tmp_path / "x.png").shape == (260, 700, 3)


class Counting(NumpyHandle):
    evaluations = 0

    def evaluate(self, prepared, split="val"):  # type: ignore[no-untyped-def]
        Counting.evaluations += 1
        return super().evaluate(prepared, split)


def test_lr_decay_evaluates_neither_after_the_change_nor_after_training(
    numpy_framework,  # noqa: F811
    model_and_data,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setattr("tests.core.test_resume_pipeline.NumpyHandle", Counting)
    Counting.evaluations = 0
    model, data = model_and_data
    report = run_resume(_request(model, data, epochs=3, patience=None))
    # baseline (validation, training) + one validation pass per epoch: nothing repeated.
    assert Counting.evaluations == 2 + 3
    val = {k: v for k, v in report.baseline.items() if k.startswith("val_")}
    assert {k: report.after_change[k] for k in val} == val  # only the rate changed
    best = report.history[report.best_epoch - 1].metrics
    assert report.output_metrics == {k: best[k] for k in val}
    # ... and they are what the written checkpoint scores.
    stored = np.load(report.out_dir / "model.npz")
    handle = NumpyHandle(*stored["w"].shape)
    handle.w, handle.b = stored["w"], stored["b"]
    x, y = np.load(data)["x_val"], np.load(data)["y_val"]
    split = SimpleNamespace(x=x, y=y)
    scored = handle.evaluate(SimpleNamespace(val=split), "val")
    assert report.output_metrics["val_loss"] == pytest.approx(scored["loss"], rel=1e-12)
    assert report.output_metrics["val_accuracy"] == pytest.approx(scored["accuracy"])


def _setup(**kwargs):  # type: ignore[no-untyped-def]
    base = {"val_names": ("val_loss", "val_accuracy"), "after_change": {"val_loss": 0.9}}
    return SimpleNamespace(**{**base, **kwargs})


def _records(*values: float) -> list[EpochRecord]:
    return [
        EpochRecord(e, 0.01, {"loss": 1.0, "val_loss": v, "val_accuracy": v / 10})
        for e, v in enumerate(values, 1)
    ]


def test_the_written_weights_metrics_come_from_the_epoch_that_measured_them():
    state = TrainerState(records=_records(0.8, 0.7, 0.75), best_epoch=2)
    assert measured_output(_setup(), state, trained_from=0) == {
        "val_loss": 0.7,
        "val_accuracy": pytest.approx(0.07),
    }
    # An epoch trained by an earlier process (a continued run): measured again.
    assert measured_output(_setup(), state, trained_from=2) is None
    # No epoch beat the start: after_change measured those weights, if it has every name.
    start = TrainerState(records=_records(1.0), best_epoch=0)
    full = {"val_loss": 0.9, "val_accuracy": 0.2, "val_balanced_accuracy": 0.3}
    assert measured_output(_setup(after_change=full), start, 0) == {
        "val_loss": 0.9,
        "val_accuracy": 0.2,
    }
    assert measured_output(_setup(), start, 0) is None  # val_accuracy missing
    assert measured_output(_setup(val_names=()), state, 0) is None  # names unknown
