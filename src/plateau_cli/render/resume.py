"""The before/after summary that ends a resume, on the stderr console."""

from __future__ import annotations

import math
import shlex
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from plateau_cli.names import is_validation
from plateau_cli.report.model import ResumeReport


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4f}"


def render_summary(console: Console, report: ResumeReport) -> None:
    m = report.monitor.metric
    before, best = report.monitored_baseline, report.monitored_best
    if report.improved and before is not None and best is not None:
        change = (best - before) / abs(before) * 100 if before else math.nan
        console.print(
            f"[good]{m} improved[/good]: {_fmt(before)} -> {_fmt(best)}"
            f" ({change:+.1f}%) at epoch {report.best_epoch}"
        )
    else:
        console.print(
            f"[bad]{m} did not improve[/bad] on the baseline {_fmt(before)}"
            f" (best {_fmt(best)}, epoch {report.best_epoch})"
        )
    table = Table(show_edge=False, header_style="bold")
    table.add_column("metric")
    table.add_column("baseline", justify="right")
    table.add_column(f"best (epoch {report.best_epoch})", justify="right")
    table.add_column("final", justify="right")
    names = [k for k in report.baseline if is_validation(k)] + [
        k for k in report.baseline if not is_validation(k)
    ]
    for name in names:
        table.add_row(
            name,
            _fmt(report.baseline.get(name)),
            _fmt(report.best.get(name)),
            _fmt(report.final.get(name)),
        )
    console.print(table)
    if any(not is_validation(name) for name in names):
        console.print(
            "[muted]training rows: the baseline is measured with the weights fixed, the epochs"
            " while training (dropout on, weights moving)[/muted]",
            soft_wrap=True,
        )
    stopped = report.stopped_reason.value + (
        f" ({report.stopped_detail})" if report.stopped_detail else ""
    )
    console.print(
        f"epochs run: {len(report.history)} of {report.epochs_requested};"
        f" stopped: {escape(stopped)}",
        soft_wrap=True,
    )
    if report.output is not None:
        console.print(f"checkpoint: {escape(str(report.output.path))}", soft_wrap=True)
    console.print(
        f"report:     {escape(str(report.out_dir / 'report.md'))} (+ report.json, history.csv,"
        " curves.png)",
        soft_wrap=True,
    )


#: Options naming code: `--continue` runs it only when the user names it again.
_CODE_OPTIONS = ("--model-factory", "--factory-arg", "--import")


def code_options(command_line: tuple[str, ...] | list[str]) -> list[str]:
    """The options of the original command that name code (and a `--data module:function`),
    to repeat after `--continue`: a report never grants code by itself."""
    words = list(command_line)
    picked: list[str] = []
    for i, word in enumerate(words[:-1]):
        value = words[i + 1]
        entry_point = word == "--data" and ":" in value and not Path(value).exists()
        if word in _CODE_OPTIONS or entry_point:
            picked += [word, value]
    return picked


def render_go_on(console: Console, report: ResumeReport) -> None:
    """After Ctrl-C: the one command that goes on from the last completed epoch."""
    if report.continuation is None:
        return
    done = len(report.history)
    again = " ".join(shlex.quote(arg) for arg in code_options(report.command_line))
    console.print(
        f"interrupted after epoch {done} of {report.epochs_requested}; go on with:"
        f" plateau-cli resume --continue {escape(shlex.quote(str(report.out_dir)))}"
        + (f" {escape(again)}" if again else ""),
        soft_wrap=True,
        highlight=False,
    )
