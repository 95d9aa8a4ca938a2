"""curves.png: the resumed run's curves, with the baseline, the best epoch and any resumption
marked; the learning rate gets a panel only when it changed (else it is in the title)."""

from __future__ import annotations

import math
import re
from pathlib import Path

from plateau_cli.atomic import atomic_path
from plateau_cli.names import base_name, is_validation
from plateau_cli.report import range_test_panel
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


def _margins(height: float, gap: float) -> dict[str, float]:
    """Margins in inches, given to the grid the axes are made on. `tight_layout` draws the
    whole figure an extra time to measure its text: 0.1-0.15 s CPU of curves.png's 0.25-0.4 s,
    in every resume (measured; benchmarks/fixed_cost.py ratio), and `subplots_adjust` after
    the axes exist re-lays them out at nearly that cost. These fit 7-character tick labels,
    the title line and the x label; `gap` is the space between panels as a fraction of a
    panel's height."""
    return {
        "left": 0.85 / 7,
        "right": 1 - 0.2 / 7,
        "bottom": 0.55 / height,
        "top": 1 - 0.5 / height,
        "hspace": gap,
    }


def write_curves(path: Path, report: ResumeReport) -> None:
    """Drawn with matplotlib's object API (Figure + the Agg canvas): no pyplot, so no global
    figure registry and no backend selection; the same PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [r.epoch for r in report.history]
    bases = sorted({base_name(k) for r in report.history for k in r.metrics})
    bases = sorted(bases, key=lambda b: (b != "loss", b))[:3]
    has_lr = rate_changed(report)
    curve = range_test_panel.range_test(report)
    panels = len(bases) + (1 if has_lr else 0)
    rows = panels + bool(curve)
    # The lr panel is a strip, not a third of the figure; the range test gets a full panel.
    ratios = [3.0] * len(bases) + ([1.2] if has_lr else []) + ([3.0] if curve else [])
    height = 2.6 * max(len(bases), 1) + (1.1 if has_lr else 0) + (2.6 if curve else 0)
    fig = Figure(figsize=(7, height))
    FigureCanvasAgg(fig)
    grid = _margins(height, gap=0.45 if curve else 0.2)
    if rows > 1:
        grid["height_ratios"] = ratios
    axes = fig.subplots(rows or 1, 1, gridspec_kw=grid)
    axes = list(axes) if rows > 1 else [axes]
    if curve:
        range_test_panel.draw(axes.pop(), curve)
    for ax in axes[1:]:
        ax.sharex(axes[0])
    resumed = resumed_after(report)
    for ax, base in zip(axes, bases, strict=False):
        for name in (base, "val_" + base):
            values = [r.metrics.get(name) for r in report.history]
            if any(v is not None for v in values):
                label = "validation" if is_validation(name) else "training"
                ax.plot(epochs, values, "-", marker="o", markersize=3, label=label)
        start = report.baseline.get("val_" + base)
        if start is not None:
            ax.axhline(start, color="grey", linestyle="--", linewidth=1, label="baseline (val)")
        if report.best_epoch:
            ax.axvline(
                report.best_epoch,
                color="green",
                linestyle=":",
                linewidth=1,
                label=f"best (epoch {report.best_epoch})",
            )
        for k, after in enumerate(resumed):
            ax.axvline(
                after + 0.5,
                color="black",
                linestyle="-.",
                linewidth=1,
                label=f"continued after epoch {after}" if k == 0 else None,
            )
        ax.set_ylabel(base)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    if has_lr:
        ax = axes[-1]
        rates = [r.lr for r in report.history]
        ax.plot(epochs, rates, color="purple", marker=".", drawstyle="steps-mid")
        ax.set_ylabel("lr")
        if all(r is not None and r > 0 for r in rates):  # log scale only where it can draw
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    axes[-1].set_xlabel("resumed epoch")
    fig.suptitle(_title(report, rates_shown=has_lr), fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
