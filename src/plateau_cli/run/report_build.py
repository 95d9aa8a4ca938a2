"""The ResumeReport of a run, and the recovery point that stands for it after each epoch.

One builder for both, so the report a kill leaves behind (recovery.py) has exactly the shape
and numbers of the one a finished run writes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plateau_cli import __version__
from plateau_cli.data.base import DataBundle
from plateau_cli.data.named import sample_shapes
from plateau_cli.report.json_report import to_json
from plateau_cli.report.model import ResumeReport
from plateau_cli.run.batch_size import resolve as resolve_batch_size
from plateau_cli.run.continuation import continuation_block
from plateau_cli.run.judged_on import with_final_details
from plateau_cli.run.recovery import RecoveryPoints
from plateau_cli.run.trainer import StopReason, TrainerState

if TYPE_CHECKING:
    from plateau_cli.run.resume import RunSetup


def build_report(
    setup: RunSetup,
    state: TrainerState,
    output_metrics: Mapping[str, float],
    continuation: Mapping[str, Any] | None,
    duration_s: float = 0.0,
) -> ResumeReport:
    """The report of `setup`'s run as `state` leaves it (the output file is set when saved)."""
    request, monitor = setup.request, setup.monitor
    batch = setup.batch_size or resolve_batch_size(request.batch_size)
    records = tuple(state.records)
    best = best_metrics(setup, state)
    best_value = best.get(monitor.metric)
    improved = best_value is not None and monitor.is_improvement(
        best_value, setup.baseline.get(monitor.metric)
    )
    return ResumeReport(
        tool_version=__version__,
        command_line=request.command_line,
        framework=setup.framework,
        input=setup.input,
        output=None,
        out_dir=setup.out_dir,
        strategy=setup.strategy.name,
        outcome=with_final_details(setup.strategy, setup.outcome),
        optimizer=setup.optimizer,
        monitor=monitor,
        baseline=setup.baseline,
        after_change=setup.after_change,
        best_epoch=state.best_epoch,
        best=best,
        final=dict(records[-1].metrics) if records else {},
        output_metrics=output_metrics,
        improved=improved,
        epochs_requested=request.epochs,
        history=records,
        stopped_reason=state.stop_reason or StopReason.COMPLETED,
        stopped_detail=state.stop_detail,
        restored_best=state.restored_best,
        events=tuple(state.events),
        data=setup.data,
        health=setup.health,
        notes=setup.notes,
        seed=request.seed,
        batch_size=batch.value,
        batch_size_source=batch.source,
        batch_size_detail=batch.detail,
        baseline_train_eval=setup.train_eval,
        duration_s=duration_s,
        auto=setup.auto,
        continuation=continuation,
    )


def best_metrics(setup: RunSetup, state: TrainerState) -> dict[str, float]:
    if state.best_epoch:
        return dict(state.records[state.best_epoch - 1].metrics)
    return {**setup.after_change}


def recovery_points(setup: RunSetup) -> RecoveryPoints:
    """The per-epoch recovery point of `setup`'s run (plateau_cli.run.recovery)."""

    def block(state: TrainerState, checkpoint: str) -> dict[str, Any]:
        return continuation_block(checkpoint, setup.request, state, setup.strategy)

    def doc(state: TrainerState, continuation: dict[str, Any]) -> Mapping[str, Any]:
        epochs = len(state.records)
        as_if_stopped = dataclasses.replace(
            state,
            stop_reason=StopReason.INTERRUPTED,
            stop_detail=f"the run stopped without a word after epoch {epochs} (killed or lost)",
        )
        best = best_metrics(setup, state)
        report = build_report(
            setup,
            as_if_stopped,
            {k: v for k, v in best.items() if k.startswith("val_")},
            continuation,
            duration_s=time.monotonic() - setup.started + setup.duration_before,
        )
        return to_json(report)

    return RecoveryPoints(setup.out_dir, setup.handle, block, doc)


def describe_data(bundle: DataBundle) -> dict[str, Any]:
    out: dict[str, Any] = {"source": bundle.source, "format": bundle.format}
    if bundle.is_arrays:
        out |= {
            "train_samples": len(bundle.train),
            "val_samples": len(bundle.val),
            "input_shape": sample_shapes(bundle.train.x),
        }
    if bundle.class_names:
        out["classes"] = list(bundle.class_names)
    return out
