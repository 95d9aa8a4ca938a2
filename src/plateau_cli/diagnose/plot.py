"""`diagnose --plot FILE.png`: the curves with the findings marked, as a PNG.

matplotlib (Agg, no display needed) is imported only here, inside the function: diagnose
without --plot never pays for it. The file is written atomically, so a reader never sees half
a PNG, and a path that cannot be written is an OutputError, not a traceback.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from plateau_cli.atomic import atomic_path
from plateau_cli.diagnose.base import DiagnoseResult, FindingKind
from plateau_cli.diagnose.markers import markers
from plateau_cli.errors import UsageError
from plateau_cli.names import base_name, validation_name

LOG_SCALE_SPAN = 100.0
_HUGE = 1e150
#: Marker colours: none is a curve's (training tab:blue, validation tab:orange).
_MARKER_COLORS = {
    "B": "tab:green",
    "P": "tab:olive",
    "O": "tab:red",
    "D": "black",
    "S": "tab:purple",
    "F": "tab:brown",
}


def write_plot(path: Path, result: DiagnoseResult) -> None:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise UsageError(f"--plot writes a PNG: the file name must end in .png. Received: {path}")
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    diagnosis = result.diagnosis
    history = diagnosis.history
    panels = _panel_bases(history.metrics, diagnosis.monitor.metric)
    fig, axes = plt.subplots(
        len(panels) or 1, 1, figsize=(8, 3.2 * max(1, len(panels))), sharex=True, squeeze=False
    )
    try:
        for ax, base in zip(axes[:, 0], panels, strict=False):
            _draw_panel(ax, history, base)
        marks = markers(diagnosis)
        for ax in axes[:, 0]:
            for mark in marks:
                ax.axvline(
                    mark.epoch,
                    color=_MARKER_COLORS.get(mark.letter, "gray"),
                    linestyle="--",
                    linewidth=1,
                    label=f"{mark.meaning} (epoch {mark.epoch})",
                )
            ax.legend(fontsize=7, loc="best")
            ax.grid(alpha=0.3)
        oscillation = next(
            (f for f in diagnosis.findings if f.kind is FindingKind.OSCILLATION), None
        )
        if oscillation is not None and oscillation.epoch_start is not None:
            for ax in axes[:, 0]:
                ax.axvspan(
                    oscillation.epoch_start,
                    oscillation.epoch_end or oscillation.epoch_start,
                    color="tab:purple",
                    alpha=0.08,
                )
        axes[-1, 0].set_xlabel("epoch")
        primary = diagnosis.findings[0]
        fig.suptitle(
            f"{primary.kind.value}: {diagnosis.recommendation.strategy.value}", fontsize=10
        )
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            # matplotlib warns about degenerate axes (one epoch, a constant); the PNG is fine.
            warnings.simplefilter("ignore")
            fig.tight_layout()
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format="png", dpi=110)
    finally:
        plt.close(fig)


def _panel_bases(metrics: list[str], monitored: str) -> list[str]:
    bases = []
    for name in ("loss", base_name(monitored), "accuracy"):
        if name not in bases and (name in metrics or validation_name(name) in metrics):
            bases.append(name)
    return bases[:2]


def _draw_panel(ax: Any, history: Any, base: str) -> None:
    positive = True
    span_lo, span_hi = np.inf, 0.0
    for name, color in ((base, "tab:blue"), (validation_name(base), "tab:orange")):
        series = history.get(name)
        if series is None:
            continue
        # NaN/inf are gaps (the divergence marker shows where); absurd values are clipped.
        finite = np.isfinite(series.values)
        values = np.where(finite, np.clip(series.values, -_HUGE, _HUGE), np.nan)
        ax.plot(series.index, values, marker=".", markersize=3, color=color, label=name)
        finite = values[np.isfinite(values)]
        if finite.size:
            positive = positive and bool((finite > 0).all())
            span_lo, span_hi = min(span_lo, float(finite.min())), max(span_hi, float(finite.max()))
    if positive and span_lo > 0 and span_hi / span_lo > LOG_SCALE_SPAN:
        ax.set_yscale("log")
    ax.set_ylabel(base)
