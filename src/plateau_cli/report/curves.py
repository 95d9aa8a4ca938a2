"""curves.png: the resumed run's curves, with the baseline and the best epoch marked."""

from __future__ import annotations

from pathlib import Path

from plateau_cli.atomic import atomic_path
from plateau_cli.names import base_name, is_validation
from plateau_cli.report import range_test_panel
from plateau_cli.report.model import ResumeReport


def write_curves(path: Path, report: ResumeReport) -> None:
    """Drawn with matplotlib's object API (Figure + the Agg canvas): no pyplot, so no global
    figure registry and no backend selection; the same PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = [r.epoch for r in report.history]
    bases = sorted({base_name(k) for r in report.history for k in r.metrics})
    bases = sorted(bases, key=lambda b: (b != "loss", b))[:3]
    has_lr = any(r.lr is not None for r in report.history)
    curve = range_test_panel.range_test(report)
    panels = len(bases) + (1 if has_lr else 0)
    rows = panels + bool(curve)
    fig = Figure(figsize=(7, 2.6 * max(rows, 1)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows or 1, 1)
    axes = list(axes) if rows > 1 else [axes]
    if curve:
        range_test_panel.draw(axes.pop(), curve)
    for ax in axes[1:]:
        ax.sharex(axes[0])
    for ax, base in zip(axes, bases, strict=False):
        for name, style in ((base, "-"), ("val_" + base, "-")):
            values = [r.metrics.get(name) for r in report.history]
            if any(v is not None for v in values):
                label = "validation" if is_validation(name) else "training"
                ax.plot(epochs, values, style, marker="o", markersize=3, label=label)
        start = report.baseline.get("val_" + base)
        if start is not None:
            ax.axhline(start, color="grey", linestyle="--", linewidth=1, label="baseline (val)")
        if report.best_epoch:
            ax.axvline(report.best_epoch, color="green", linestyle=":", linewidth=1, label="best")
        ax.set_ylabel(base)
        ax.legend(fontsize=7, loc="best")
        ax.grid(alpha=0.3)
    if has_lr:
        ax = axes[-1]
        rates = [r.lr for r in report.history]
        ax.plot(epochs, rates, color="purple", marker=".")
        ax.set_ylabel("lr")
        if all(r is not None and r > 0 for r in rates):  # log scale only where it can draw
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("resumed epoch")
    fig.suptitle(f"plateau-cli resume --strategy {report.strategy}", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
