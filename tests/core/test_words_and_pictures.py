"""What people read and look at: counters over the run's length, report.md's words about auto,
curves.png's title and lr panel, terminal charts without colour, the go-on line after Ctrl-C."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from rich.console import Console  # noqa: TID251  (renders a chart as a terminal would)

from plateau_cli.monitor import Monitor
from plateau_cli.observer import NullObserver
from plateau_cli.render.curves import Line, draw_chart, legend
from plateau_cli.report.curves import _title, rate_changed, resumed_after
from plateau_cli.report.markdown import render_markdown
from plateau_cli.run.interrupt import InterruptGuard
from plateau_cli.run.resume import run_resume
from plateau_cli.run.trainer import RESTORED, EpochRecord, Trainer, TrainerState
from plateau_cli.strategies import StrategyContext, build_strategy
from plateau_cli.wording import plain
from tests.core.test_resume_pipeline import _request, model_and_data, numpy_framework  # noqa: F401
from tests.fakes import NumpyHandle, blobs


class Counting(NullObserver):
    def __init__(self) -> None:
        self.totals: list[int] = []
        self.epochs: list[int] = []

    def on_train_begin(self, total_epochs: int, steps_per_epoch: int | None) -> None:
        self.totals.append(total_epochs)

    def on_epoch_end(self, epoch: int, logs) -> None:  # type: ignore[override]
        self.epochs.append(epoch)


def test_a_continued_run_counts_over_its_whole_length_and_forgets_the_old_restore():
    handle = NumpyHandle(8, 3, lr=0.5)
    strategy = build_strategy("lr-decay", {})
    data = blobs()
    prepared = handle.prepare(data, 32, 0)
    monitor = Monitor.for_metric("val_loss")
    strategy.apply(handle, data, StrategyContext(monitor, 10, 0, 32))
    earlier = TrainerState(
        records=[EpochRecord(e, 0.05, {"val_loss": 9.0, "loss": 9.0}) for e in (1, 2, 3, 4)],
        best_epoch=3,
        best_value=9.0,
        events=[f"{RESTORED}: epoch 3"],
        restored_best=True,
    )
    observer = Counting()
    trainer = Trainer(
        handle, strategy, monitor, patience=None, guard=InterruptGuard(), observer=observer,
        resumed=earlier,
    )  # fmt: skip
    state = trainer.run(prepared, 36, first_epoch=5)
    assert observer.totals == [40]  # "epoch 5/40", not "epoch 5/36"
    assert observer.epochs[0] == 5
    assert observer.epochs[-1] == 40
    assert state.best_epoch > 4  # anything beats 9.0
    assert f"{RESTORED}: epoch 3" not in state.events  # that decision no longer holds


def test_report_md_says_why_auto_chose_and_never_cites_our_notes(numpy_framework, model_and_data):  # noqa: F811
    model, data = model_and_data
    report = run_resume(_request(model, data, epochs=2))
    assert "chosen by --strategy auto" not in render_markdown(report)
    auto = {
        "chosen": "lr-decay",
        "reason": "the log shows oscillation: the steps are too large (FINDINGS §2)",
        "alternatives": ["augment"],
        "log": "run.log",
    }
    md = render_markdown(replace(report, auto=auto))
    first, _, why = md.splitlines()[:3]
    assert first == "# plateau-cli resume: lr-decay (chosen by --strategy auto)"
    assert why.startswith("**Why lr-decay**: the log shows oscillation: the steps are too large.")
    assert "Next best: augment." in why
    assert "the log `run.log`" in why
    assert "FINDINGS" not in md
    fallback = render_markdown(replace(report, auto={**auto, "chosen": "widen", "fallback": "x"}))
    assert "**auto chose widen**" in fallback
    assert "Instead: x." in fallback


def test_curves_title_names_auto_and_a_constant_rate(numpy_framework, model_and_data):  # noqa: F811
    model, data = model_and_data
    report = run_resume(_request(model, data, epochs=3))
    constant = replace(report, history=tuple(replace(r, lr=0.01) for r in report.history))
    assert not rate_changed(constant)
    title = _title(replace(constant, auto={"chosen": "lr-decay"}), rates_shown=False)
    assert (
        title
        == "plateau-cli resume: lr-decay (chosen by --strategy auto); learning rate 0.01 throughout"
    )
    steps = replace(
        report, history=tuple(replace(r, lr=0.01 / 10**i) for i, r in enumerate(report.history))
    )
    assert rate_changed(steps)
    assert resumed_after(replace(report, events=("continued after epoch 2 of 3",))) == [2]
    assert (report.out_dir / "curves.png").read_bytes().startswith(b"\x89PNG")


def _print(renderable, **console) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=60, **console).print(renderable)
    return buffer.getvalue()


@pytest.mark.parametrize("no_color", [True, False])
def test_terminal_charts_tell_the_lines_apart_without_colour(no_color):
    epochs = np.arange(1, 11)
    lines = [
        Line("loss", epochs, np.linspace(1.0, 0.2, 10), "cyan"),
        Line("val_loss", epochs, np.linspace(1.2, 0.9, 10), "magenta"),
    ]
    console = (
        {"no_color": True}
        if no_color
        else {"no_color": False, "force_terminal": True, "color_system": "standard"}
    )
    chart = _print(draw_chart(lines, width=30, height=6), **console)
    key = _print(legend(lines), **console)
    if no_color:
        assert "•" in chart
        assert "• val_loss" in key
        assert "⠤ loss" in key
        assert "\x1b[" not in chart
    else:
        assert "•" not in chart
        assert "━" in key


def test_plain_drops_references_to_our_notes():
    assert (
        plain("no rate revives them (FINDINGS §2); noise does")
        == "no rate revives them; noise does"
    )


def test_trial_md_names_the_factory_argument_a_widened_winner_needs():
    from types import SimpleNamespace

    from plateau_cli.report.trial_report import load_hint

    def result(details, line):
        report = SimpleNamespace(outcome=SimpleNamespace(details=details))
        return SimpleNamespace(winner=SimpleNamespace(report=report), command_line=line)

    line = (
        "plateau-cli",
        "trial",
        "m.pt",
        "--model-factory",
        "nets.py:mlp",
        "--factory-arg",
        "hidden=4",
    )
    hint = load_hint(result({"factory_args": {"hidden": 8, "activation": "relu"}}, line))
    assert (
        "`--model-factory nets.py:mlp --factory-arg hidden=8 --factory-arg activation='relu'`"
        in hint
    )
    assert load_hint(result({}, line)) is None  # not widened: loads as before


def test_json_keeps_progress_on_a_terminal_and_drops_it_on_a_pipe():
    from plateau_cli.render.console import progress_observer
    from plateau_cli.render.progress import RichObserver

    terminal = Console(file=io.StringIO(), force_terminal=True)
    pipe = Console(file=io.StringIO(), force_terminal=False)
    assert isinstance(progress_observer(terminal, json_output=True, quiet=False), RichObserver)
    assert not isinstance(progress_observer(pipe, json_output=True, quiet=False), RichObserver)
    assert isinstance(progress_observer(pipe, json_output=False, quiet=False), RichObserver)


def test_an_interrupted_run_names_the_command_that_goes_on(tmp_path):
    from types import SimpleNamespace

    from plateau_cli.render.resume import render_go_on

    out = tmp_path / "my run"
    report = SimpleNamespace(
        continuation={"checkpoint": ".continue/m.keras"}, history=(1, 2, 3), epochs_requested=40,
        out_dir=out, command_line=("plateau-cli", "resume", "m.keras", "--data", "d.npz"),
    )  # fmt: skip
    buffer = io.StringIO()
    render_go_on(Console(file=buffer, width=200), report)  # type: ignore[arg-type]
    assert buffer.getvalue().strip() == (
        f"interrupted after epoch 3 of 40; go on with: plateau-cli resume --continue '{out}'"
    )


def test_the_command_that_goes_on_repeats_the_code_the_run_named(tmp_path):
    """A report never grants code: the line names --model-factory and its arguments again."""
    from types import SimpleNamespace

    from plateau_cli.render.resume import render_go_on

    out = tmp_path / "run"
    command = ("plateau-cli", "resume", "c.pt", "--model-factory", "nets.py:mlp",
               "--factory-arg", "hidden=32", "--data", "d.npz", "--out", str(out))  # fmt: skip
    report = SimpleNamespace(
        continuation={"checkpoint": ".continue/c.pt"}, history=(1, 2), epochs_requested=6,
        out_dir=out, command_line=command,
    )  # fmt: skip
    buffer = io.StringIO()
    render_go_on(Console(file=buffer, width=300), report)  # type: ignore[arg-type]
    assert buffer.getvalue().strip() == (
        f"interrupted after epoch 2 of 6; go on with: plateau-cli resume --continue {out}"
        " --model-factory nets.py:mlp --factory-arg hidden=32"
    )
