"""What both frameworks' normalize report, and the check that the fold kept the function."""

from __future__ import annotations

from typing import Any

import numpy as np

from plateau_cli.errors import StrategyNotApplicableError


def max_change(before: list[np.ndarray], after: list[np.ndarray]) -> tuple[float, float]:
    """(max |after - before|, the outputs' spread) over the same inputs."""
    change = max(float(np.max(np.abs(a - b))) for a, b in zip(after, before, strict=True))
    spread = float(np.std(np.concatenate([b.reshape(-1) for b in before])))
    return change, spread


def check_kept(change: float, spread: float, tolerance: float, layer: str) -> None:
    if change > tolerance * max(spread, 1.0):
        raise StrategyNotApplicableError(
            f"folding the standardisation into {layer} changed the outputs by {change:.3g}"
            f" (more than {tolerance:g} of their spread): {layer} does not see the raw inputs"
            " directly (a scaling layer before it, or zero padding); normalize the data and"
            " retrain instead"
        )


def summary(
    layer: str, where: str, mean: np.ndarray, std: np.ndarray, change: float
) -> dict[str, Any]:
    return {
        "layer": layer,
        "where": where,
        "mean_range": f"{float(mean.min()):.3g}..{float(mean.max()):.3g}",
        "std_range": f"{float(std.min()):.3g}..{float(std.max()):.3g}",
        "features": int(mean.size),
        "max_abs_output_change": change,
    }


def balance_summary(next_layer: str, scales: np.ndarray) -> dict[str, Any]:
    """What rescaling the first layer's units did (balance.py), for the report."""
    return {
        "units_rescaled": int(scales.size),
        "unit_scale_range": f"{float(scales.min()):.3g}..{float(scales.max()):.3g}",
        "inverse_in": next_layer,
    }


def chain_summary(links: list[dict[str, Any]]) -> dict[str, Any]:
    """The first link's figures (the layer normalize folded into), and every layer touched."""
    if not links:
        return {}
    return {
        **links[0],
        "units_rescaled": int(sum(link["units_rescaled"] for link in links)),
        "layers_rescaled": len(links),
        "inverse_in": ", ".join(link["inverse_in"] for link in links),
    }
