"""curves.png: the resumed run's curves, with the baseline, the best epoch and any resumption
marked; the learning rate gets a panel only when it changed (else it is in the title)."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any

from plateau_cli.atomic import atomic_path
from plateau_cli.names import base_name, is_validation
from plateau_cli.report import range_test_panel
from plateau_cli.report import raster_chart as chart
from plateau_cli.report.model import ResumeReport

#: How a continued run's event starts (plateau_cli.run.resume_continue writes it).
_CONTINUED = re.compile(r"^continued after epoch (\d+)\b")


def resumed_after(report: ResumeReport) -> list[int]:
    """The epochs after which an interrupted run was continued (`resume --continue`)."""
    return [int(m.group(1)) for e in report.events if (m := _CONTINUED.match(e))]


def rate_changed(report: ResumeReport) -> bool:
    rates = [r.lr for r in report.history if r.lr is not None]
    return len(rates) > 1 and not all(math.isclose(r, rates[0], rel_tol=1e-9) for r in rates)


def _title(report: ResumeReport, *, rates_shown: bool) -> str:
    how = " (chosen by --strategy auto)" if report.auto else ""
    title = f"plateau-cli resume: {report.strategy}{how}"
    rates = [r.lr for r in report.history if r.lr is not None]
    if rates and not rates_shown:
        title += f"; learning rate {rates[0]:.3g} throughout"
    return title


def write_curves(path: Path, report: ResumeReport) -> None:
    """One panel per metric (loss first, at most three), the learning rate's when it changed,
    and lr-find's range test; drawn by raster_chart (Pillow: no matplotlib import)."""
    epochs = [r.epoch for r in report.history]
    bases = sorted({base_name(k) for r in report.history for k in r.metrics})
    bases = sorted(bases, key=lambda b: (b != "loss", b))[:3]
    has_lr = rate_changed(report)
    curve = range_test_panel.range_test(report)
    resumed = resumed_after(report)
    panels = [_metric_panel(report, base, epochs, resumed) for base in bases]
    if has_lr:
        rates = [r.lr for r in report.history]
        log = all(r is not None and r > 0 for r in rates)  # log scale only where it can draw
        line = chart.Series(epochs, rates, chart.PURPLE, markers=True, steps=True, width=1.2)
        panels.append(
            chart.Panel([line], ylabel="lr", log_y=log, weight=1.2, legend=False, **_EPOCHS)
        )
    if not panels:
        panels.append(chart.Panel([], **_EPOCHS))
    panels[-1] = dataclasses.replace(panels[-1], x_labels=True, xlabel="resumed epoch")
    if curve:
        panels.append(range_test_panel.panel(curve))
    height = 2.6 * max(len(bases), 1) + (1.1 if has_lr else 0) + (2.6 if curve else 0)
    with atomic_path(path) as tmp:
        chart.render(tmp, _title(report, rates_shown=has_lr), panels, height=round(height * 100))


#: The epoch axis every metric panel shares; its numbers under the lowest panel only.
_EPOCHS: dict[str, Any] = {"integer_x": True, "share_x": "epoch", "x_labels": False}


def _metric_panel(
    report: ResumeReport, base: str, epochs: list[int], resumed: list[int]
) -> chart.Panel:
    series = []
    for name, color in ((base, chart.BLUE), ("val_" + base, chart.ORANGE)):
        values = [r.metrics.get(name) for r in report.history]
        if any(v is not None for v in values):
            label = "validation" if is_validation(name) else "training"
            series.append(chart.Series(epochs, values, color, label, markers=True))
    rules = []
    start = report.baseline.get("val_" + base)
    if start is not None:
        rules.append(chart.Rule(start, False, chart.GREY, "baseline (val)"))
    if report.best_epoch:
        label = f"best (epoch {report.best_epoch})"
        rules.append(chart.Rule(report.best_epoch, True, chart.GREEN, label, chart.DOTTED))
    for k, after in enumerate(resumed):
        label = f"continued after epoch {after}" if k == 0 else None
        rules.append(chart.Rule(after + 0.5, True, chart.BLACK, label, chart.DASH_DOT))
    return chart.Panel(series, rules, ylabel=base, **_EPOCHS)
