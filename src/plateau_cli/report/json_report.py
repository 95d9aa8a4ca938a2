"""report.json (schema_version 1), built field by field so internals can move freely."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plateau_cli.jsonable import finite_or_none, jsonable
from plateau_cli.report.model import SCHEMA_VERSION, FileRef, ResumeReport


def _metrics(values: Mapping[str, float]) -> dict[str, Any]:
    return {k: finite_or_none(float(v)) for k, v in values.items()}


def _file(ref: FileRef | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    out: dict[str, Any] = {"path": str(ref.path), "sha256": ref.sha256}
    if ref.format is not None:
        out["format"] = ref.format
    return out


def to_json(report: ResumeReport) -> dict[str, Any]:
    o = report.outcome
    opt = report.optimizer
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "plateau-cli", "version": report.tool_version},
        "command_line": list(report.command_line),
        "framework": report.framework,
        "input": _file(report.input),
        "output": _file(report.output),
        "out_dir": str(report.out_dir),
        "strategy": {
            "name": report.strategy,
            "parameters": jsonable(o.parameters),
            "details": jsonable(o.details),
        },
        "changes": list(o.changes) + list(report.events),
        #: The part of `changes` made during training (schedule steps, unfreezing stages).
        "events": list(report.events),
        "optimizer": {
            "name": opt.name,
            "loaded_state": opt.state.value,
            "loaded_detail": opt.detail,
            "iterations_at_load": opt.iterations,
            "learning_rate_at_load": finite_or_none(opt.learning_rate),
            "state": o.optimizer_state.value,
            "detail": o.optimizer_detail,
        },
        "monitor": {
            "metric": report.monitor.metric,
            "mode": report.monitor.mode.value,
            "min_delta": report.monitor.min_delta,
        },
        "baseline": _metrics(report.baseline),
        "after_change": _metrics(report.after_change),
        "best": {"epoch": report.best_epoch, "metrics": _metrics(report.best)},
        "final": _metrics(report.final),
        "output_metrics": _metrics(report.output_metrics),
        "improved": report.improved,
        "epochs_requested": report.epochs_requested,
        "epochs_run": len(report.history),
        "stopped_reason": report.stopped_reason.value,
        "stopped_detail": report.stopped_detail,
        "restored_best": report.restored_best,
        "history": [
            {"epoch": r.epoch, "lr": finite_or_none(r.lr), **_metrics(r.metrics)}
            for r in report.history
        ],
        "data": jsonable(report.data),
        "health": [
            {"id": h.id, "text": h.text, "evidence": jsonable(h.evidence)} for h in report.health
        ],
        "notes": list(report.notes),
        "auto": jsonable(report.auto) if report.auto is not None else None,
        "continuation": (
            jsonable(report.continuation) if report.continuation is not None else None
        ),
        "seed": report.seed,
        "batch_size": report.batch_size,
        "batch_size_source": report.batch_size_source,
        "baseline_train_eval": (
            jsonable(report.baseline_train_eval) if report.baseline_train_eval else None
        ),
        "duration_s": round(report.duration_s, 3),
    }
