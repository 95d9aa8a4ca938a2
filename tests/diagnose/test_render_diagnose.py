"""The human output: verdict, curves, findings with evidence, recommendation, next command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console  # noqa: TID251 - rendering is what is under test

from plateau_cli.history import HistoryBuilder
from plateau_cli.render.curves import Line, draw_chart
from plateau_cli.render.diagnose import render_diagnosis
from tests.diagnose.diagnose_cases import (
    history,
    nan_divergence,
    overfitting,
    result,
    stuck_at_ln10,
)

BRAILLE = range(0x2801, 0x2900)


def _render(res: object, plot_path: Path | None = None) -> str:
    console = Console(record=True, width=100)
    render_diagnosis(console, res, plot_path=plot_path)  # type: ignore[arg-type]
    return console.export_text()


def test_overfitting_output_has_every_part() -> None:
    text = _render(result(overfitting(), path="logs/run.csv"))
    lines = text.splitlines()
    assert lines[0].startswith("logs/run.csv")
    assert "keras-csv, 40 epochs, monitor val_loss (min)" in lines[0]
    assert lines[1].startswith("! overfitting: val_loss worse by")
    assert any(ord(ch) in BRAILLE for ch in text), "no curve drawn"
    assert "B best val_loss (epoch 16)" in text
    assert "O overfitting from (epoch 16)" in text
    assert "best_epoch=16" not in text  # the evidence is in --json, not the terminal
    assert "Recommendation: augment" in text
    assert "restore-best" in text
    assert "regularize" in text
    assert "plateau-cli resume MODEL --strategy augment --data DATA" in text


def test_next_command_is_on_one_line_even_when_long() -> None:
    model = "a/very/long/path/to/the/model/that/would/wrap/" + "x" * 60 + ".keras"
    text = _render(result(overfitting(), model=model, data="data.npz"))
    assert f"plateau-cli resume {model} --strategy augment --data data.npz" in text


def test_no_next_command_when_nothing_to_resume() -> None:
    text = _render(result(stuck_at_ln10()))
    assert "✗ no-learning" in text
    assert "plateau-cli resume" not in text
    assert "chance-level" in text
    assert "check-data" in text


def test_notes_and_plot_path_are_shown() -> None:
    builder = HistoryBuilder()
    for epoch, value in enumerate([1.0, 0.8, 0.7, 0.65, 0.6], start=1):
        builder.add_epoch(epoch, "loss", value)
    builder.note("line 9 cut off (training still running?)")
    text = _render(result(builder.build()), plot_path=Path("curves.png"))
    assert "line 9 cut off (training still running?)" in text
    assert "Plot written to curves.png" in text


def test_names_from_the_log_are_not_read_as_markup() -> None:
    builder = HistoryBuilder()
    for epoch, value in enumerate([1.0, 0.8, 0.7], start=1):
        builder.add_epoch(epoch, "[bold]loss", value)
    text = _render(result(builder.build(), path="[red]run.log"))
    assert "[red]run.log" in text


def test_divergence_chart_switches_to_log_scale_and_marks_the_epoch() -> None:
    run = history(loss=[2.0, 1.0, 0.5, 0.4, 5.0, 60.0, 900.0, 20000.0])
    text = _render(result(run))
    assert "(log scale)" in text
    assert "D divergence (epoch 5)" in text
    nan_text = _render(result(nan_divergence()))
    assert "D divergence (epoch 12)" in nan_text


def test_chart_draws_each_point_in_its_column() -> None:
    line = Line("loss", np.arange(1, 11), np.linspace(1.0, 0.1, 10), "cyan")
    chart = draw_chart([line], width=20, height=4).plain.splitlines()
    rows = chart[:4]
    assert rows[0].strip().startswith("1 ┤")
    assert rows[-1].strip().startswith("0.1 ┤")
    # A falling line: the first column is drawn in the top row, the last one in the bottom row.
    body = [r.split("┤" if "┤" in r else "│", 1)[1] for r in rows]
    assert body[0][0] != " "
    assert body[-1][-1] != " "
    assert body[0][-1] == " "
    assert body[-1][0] == " "
    assert "epoch 1" in chart[5]
    assert chart[5].rstrip().endswith("10")


def test_a_million_epochs_draw_with_the_true_axis_and_every_spike():
    from plateau_cli.render.diagnose import _thin

    n = 1_000_000
    epochs = np.arange(1, n + 1)
    values = np.linspace(1.0, 0.1, n)
    values[123_457] = 50.0
    values[777_777] = np.nan
    e, v = _thin(epochs, values)
    assert e.size < 2_000
    assert (e[0], e[-1]) == (1, n)
    assert 50.0 in v
    assert np.isnan(v).sum() == 1
