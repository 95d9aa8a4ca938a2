"""The lr-find range test as a curves.png panel: loss against learning rate, with the restored
and the chosen rates marked, so a person can see why the rate went up or down."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from plateau_cli.report.raster_chart import BLACK, GREY, LIGHT_GREY, Panel, Rule, Series

RED = (214, 39, 40)


def range_test(report: Any) -> Mapping[str, Any] | None:
    """The range-test curve in the report's strategy details, if the strategy ran one."""
    curve = report.outcome.details.get("range_test") if report.outcome else None
    return curve if isinstance(curve, Mapping) and curve.get("lr") else None


def panel(curve: Mapping[str, Any]) -> Panel:
    series = [
        Series(curve["lr"], curve["loss"], LIGHT_GREY, "batch loss", width=1.0),
        Series(curve["lr"], curve["smoothed_loss"], BLACK, "smoothed", width=1.2),
    ]
    rules = [
        Rule(curve[key], True, color, label)
        for key, color, label in (
            ("restored_lr", GREY, "restored rate"),
            ("suggested_lr", RED, "new rate"),
        )
        if curve.get(key)
    ]
    ylim = None
    finite = [v for v in curve["smoothed_loss"] if v is not None and math.isfinite(v)]
    if finite:  # the runaway end of the curve would flatten everything else
        low, high = min(finite), max(finite)
        top = min(high, finite[0] + 2 * (finite[0] - low)) if finite[0] > low else high
        margin = 0.05 * (top - low) or 0.05 * max(abs(low), 1e-6)
        ylim = (low - margin, top + margin)
    return Panel(
        series,
        rules,
        ylabel="loss",
        xlabel="learning rate (range test from the checkpoint)",
        log_x=True,
        ylim=ylim,
    )
