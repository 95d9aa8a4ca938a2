"""The lr-find range test as a curves.png panel: loss against learning rate, with the restored
and the chosen rates marked, so a person can see why the rate went up or down."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def range_test(report: Any) -> Mapping[str, Any] | None:
    """The range-test curve in the report's strategy details, if the strategy ran one."""
    curve = report.outcome.details.get("range_test") if report.outcome else None
    return curve if isinstance(curve, Mapping) and curve.get("lr") else None


def draw(ax: Any, curve: Mapping[str, Any]) -> None:
    ax.plot(curve["lr"], curve["loss"], color="lightgrey", linewidth=1, label="batch loss")
    ax.plot(curve["lr"], curve["smoothed_loss"], color="black", linewidth=1.2, label="smoothed")
    ax.set_xscale("log")
    for key, color, label in (
        ("restored_lr", "grey", "restored rate"),
        ("suggested_lr", "red", "new rate"),
    ):
        if curve.get(key):
            ax.axvline(curve[key], color=color, linestyle="--", linewidth=1, label=label)
    finite = [v for v in curve["smoothed_loss"] if v is not None and math.isfinite(v)]
    if finite:  # the runaway end of the curve would flatten everything else
        low, high = min(finite), max(finite)
        top = min(high, finite[0] + 2 * (finite[0] - low)) if finite[0] > low else high
        margin = 0.05 * (top - low) or 0.05 * max(abs(low), 1e-6)
        ax.set_ylim(low - margin, top + margin)
    ax.set_xlabel("learning rate (range test from the checkpoint)")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
