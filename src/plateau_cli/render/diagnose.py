"""`plateau-cli diagnose` for a person: verdict, curves, findings, what to do, what to run.

Everything goes to the console it is given (the CLI passes the stderr console: stdout is for
--json). Styles are plain colour names, not theme names, so any Console renders it; values
from the log (metric names, paths) are never parsed as rich markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from plateau_cli.diagnose.base import DiagnoseResult, Finding, FindingKind, Severity
from plateau_cli.diagnose.markers import markers
from plateau_cli.names import base_name, validation_name
from plateau_cli.render.curves import LABEL_WIDTH, Line, Mark, draw_chart, legend

if TYPE_CHECKING:
    from plateau_cli.history import RunHistory
    from plateau_cli.logs.base import LogRead

SEVERITY_STYLE = {Severity.INFO: "green", Severity.WARNING: "yellow", Severity.ERROR: "bold red"}
SEVERITY_ICON = {Severity.INFO: "✓", Severity.WARNING: "!", Severity.ERROR: "✗"}
TRAIN_STYLE, VAL_STYLE = "cyan", "magenta"
CHART_HEIGHT = 8
MAX_CHART_WIDTH = 72
#: Long curves are thinned to the extremes of this many buckets before drawing.
THIN_BUCKETS = 500
#: Evidence entries shown per finding in the table (the JSON has them all).


def render_diagnosis(
    console: Console, result: DiagnoseResult, plot_path: Path | None = None
) -> None:
    diagnosis = result.diagnosis
    read = cast("LogRead", result.read)
    history = diagnosis.history
    primary = diagnosis.findings[0]
    monitor = diagnosis.monitor

    header = Text(f"{read.path}", style="bold")
    header.append(
        f"  {read.format}, {history.n_epochs} epochs,"
        f" monitor {monitor.metric} ({monitor.mode.value})",
        style="dim",
    )
    console.print(header, soft_wrap=True)
    verdict = Text(
        f"{SEVERITY_ICON[primary.severity]} {primary.kind.value}: ",
        style=SEVERITY_STYLE[primary.severity],
    )
    verdict.append(primary.summary)
    console.print(verdict)
    if diagnosis.explains:
        shown = ", ".join(k.value for k in diagnosis.explains)
        console.print(Text(f"  This also explains the other findings: {shown}.", style="dim"))
    if diagnosis.confidence_reason:
        console.print(
            Text(
                f"  Confidence {diagnosis.confidence.value}: {diagnosis.confidence_reason}.",
                style="yellow",
            )
        )
    console.print()

    marks = [Mark(m.epoch, m.letter, m.meaning) for m in markers(diagnosis)]
    width = max(20, min(MAX_CHART_WIDTH, console.width - LABEL_WIDTH - 4))
    for lines in _chart_groups(history, monitor.metric):
        console.print(draw_chart(lines, width=width, height=CHART_HEIGHT, marks=marks))
        console.print(legend(lines, marks))
        console.print()

    console.print(_findings_table(diagnosis.findings))
    _print_recommendation(console, result)
    if history.notes:
        console.print(Text("Notes from reading the log:", style="dim"))
        for note in history.notes:
            console.print(Text(f"  - {note}", style="dim"))
    if plot_path is not None:
        console.print(Text(f"Plot written to {plot_path}", style="dim"), soft_wrap=True)


def _chart_groups(history: RunHistory, monitored: str) -> list[list[Line]]:
    """The losses in one chart; the monitored metric's pair (or accuracy) in a second one."""
    groups: list[list[Line]] = []
    losses = _pair(history, "loss")
    if losses:
        groups.append(losses)
    other = base_name(monitored)
    if other == "loss":
        other = "accuracy"
    second = _pair(history, other)
    if second:
        groups.append(second)
    if not groups and history.model_metrics():
        groups.append(_pair(history, base_name(history.model_metrics()[0])))
    return groups


def _pair(history: RunHistory, base: str) -> list[Line]:
    lines = []
    for name, style in ((base, TRAIN_STYLE), (validation_name(base), VAL_STYLE)):
        series = history.get(name)
        if series is not None and np.isfinite(series.values).any():
            lines.append(Line(name, *_thin(series.index, series.values), style))
    return lines


def _thin(epochs: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most ~2 x THIN_BUCKETS points: the lowest and highest of each bucket of epochs.

    The chart is a few hundred dots wide, so a million-step curve drawn point by point only
    costs time; keeping each bucket's extremes keeps every spike and NaN gap visible.
    """
    n = int(values.shape[0])
    if n <= 2 * THIN_BUCKETS:
        return epochs, values
    size = -(-n // THIN_BUCKETS)
    pad = size * THIN_BUCKETS - n
    finite = np.isfinite(values)
    low = np.concatenate((np.where(finite, values, np.inf), np.full(pad, np.inf)))
    high = np.concatenate((np.where(finite, values, -np.inf), np.full(pad, -np.inf)))
    starts = np.arange(THIN_BUCKETS) * size
    keep = np.concatenate(
        (
            starts + low.reshape(THIN_BUCKETS, size).argmin(axis=1),
            starts + high.reshape(THIN_BUCKETS, size).argmax(axis=1),
            np.flatnonzero(~finite),
            [0, n - 1],  # the axis spans the whole run
        )
    )
    keep = np.unique(keep[keep < n])
    return epochs[keep], values[keep]


def _findings_table(findings: tuple[Finding, ...]) -> Table:
    table = Table(title=None, show_lines=True, expand=True, header_style="bold")
    table.add_column("finding", no_wrap=True)
    table.add_column("epochs", no_wrap=True)
    table.add_column("what and why")
    for finding in findings:
        kind = Text(finding.kind.value, style=SEVERITY_STYLE[finding.severity])
        # The evidence behind each finding (slopes, waits, thresholds) is in --json: the
        # terminal gives the sentence with the numbers that carry the verdict.
        body = Text(finding.summary)
        table.add_row(kind, _epochs(finding), body)
    return table


def _epochs(finding: Finding) -> str:
    start, end = finding.epoch_start, finding.epoch_end
    if start is None:
        return "-"
    return f"{start}" if end is None or end == start else f"{start}-{end}"


def _print_recommendation(console: Console, result: DiagnoseResult) -> None:
    rec = result.diagnosis.recommendation
    console.print()
    line = Text("Recommendation: ", style="bold")
    line.append(rec.strategy.value, style="bold green" if rec.strategy.value != "none" else "bold")
    line.append(f"  {rec.reason}")
    console.print(line)
    if rec.alternatives:
        console.print(Text("Alternatives: " + ", ".join(s.value for s in rec.alternatives)))
    for action in rec.actions:
        item = Text("  • ")
        item.append(action.id.value, style="bold")
        item.append(f"  {action.text}")
        console.print(item)
    console.print()
    if result.next_command:
        console.print(Text("Next:", style="bold"))
        console.print(Text(result.next_command, style="bold green"), soft_wrap=True)
    elif result.diagnosis.verdict is FindingKind.HEALTHY:
        console.print(Text("Next: nothing to resume yet; let the run continue.", style="bold"))
    else:
        console.print(Text("Next: no resume strategy fits; see the actions above.", style="bold"))
