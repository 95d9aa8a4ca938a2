"""The end of a `trial` for people: the verdict and the comparison table."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from plateau_cli.report.trial_report import TRIAL_MD, TRIAL_PNG, load_hint, to_json
from plateau_cli.run.trial import TrialResult


def render_trial(console: Console, result: TrialResult) -> None:
    doc = to_json(result)
    style = "bad" if result.control_won else "good"
    console.print(f"[{style}]{escape(doc['verdict'])}[/{style}]", soft_wrap=True)
    metric = doc["monitor"]["metric"] if doc["monitor"] else "metric"
    table = Table(show_edge=False, header_style="bold")
    table.add_column("candidate")
    table.add_column("status")
    table.add_column("epochs", justify="right")
    table.add_column(f"best {metric}", justify="right")
    for c in doc["candidates"]:
        best = "–" if c["best"] is None else f"{c['best']:.4f}"
        name = (
            f"[bold]{c['strategy']}[/bold]"
            if c["strategy"] == result.winner.name
            else c["strategy"]
        )
        table.add_row(name, escape(c["status"]), str(c["epochs_run"]), best)
    console.print(table)
    for c in doc["candidates"]:
        if c["reason"]:
            console.print(f"[muted]{c['strategy']}: {escape(c['reason'])}[/muted]", soft_wrap=True)
    console.print(
        f"epochs spent: {result.epochs_spent} (every candidate for the whole budget:"
        f" {result.epochs_full})"
    )
    console.print(f"checkpoint: {escape(str(result.checkpoint.path))}", soft_wrap=True)
    hint = load_hint(result)
    if hint:
        console.print(f"[warning]{escape(hint)}[/warning]", soft_wrap=True)
    console.print(
        f"report:     {escape(str(result.out_dir / TRIAL_MD))} (+ trial.json, {TRIAL_PNG},"
        " candidates/)",
        soft_wrap=True,
    )
