"""When a strategy must be judged on its own metric (rebalance: balanced accuracy).

Kept apart from `resume` so that the pipeline only asks: does the chosen strategy name a
metric of its own? If so the run is monitored, restored and judged on it, its value before the
change joins the baseline, and the report says so in `changes`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from plateau_cli.adapters.base import ModelHandle
from plateau_cli.monitor import Monitor
from plateau_cli.strategies.base import Strategy, StrategyOutcome


def judged_on(
    strategy: Strategy,
    handle: ModelHandle,
    monitor: Monitor,
    baseline: Mapping[str, float],
    outcome: StrategyOutcome,
) -> tuple[Monitor, dict[str, float], dict[str, float]]:
    """(monitor, baseline, extra after-change metrics) for the run after `strategy.apply`."""
    extra = strategy.epoch_metrics(handle)
    metric = strategy.monitored_metric
    base = dict(baseline)
    if metric is None or metric == monitor.metric:
        return monitor, base, extra
    before = outcome.details.get("before", {}).get(metric.removeprefix("val_"))
    if before is not None:
        base[metric] = float(before)
    return Monitor.for_metric(metric, monitor.min_delta), base, extra


def with_final_details(strategy: Strategy, outcome: StrategyOutcome) -> StrategyOutcome:
    final = strategy.final_details()
    if not final:
        return outcome
    return dataclasses.replace(outcome, details={**outcome.details, **final})
