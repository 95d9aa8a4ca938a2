"""The `diagnose --json` document (schema_version 1), built field by field.

Never `dataclasses.asdict`: the JSON is a contract and must not move when the internals do.
Evidence numbers are rounded to 6 significant digits (enough to check a verdict, short enough
to read); NaN and ±inf, which JSON has no words for, become the strings "nan", "inf", "-inf"
so a reader can still tell them apart, and numpy scalars become plain numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from plateau_cli.diagnose.base import DiagnoseResult, Finding, Recommendation

if TYPE_CHECKING:
    from plateau_cli.logs.base import LogRead

SCHEMA_VERSION = 1
SIGNIFICANT_DIGITS = 6


def to_json(result: DiagnoseResult) -> dict[str, Any]:
    diagnosis = result.diagnosis
    read = cast("LogRead", result.read)
    history = diagnosis.history
    source: dict[str, Any] = {"path": str(read.path), "format": read.format}
    if read.run is not None or read.format == "tensorboard":
        source["run"] = read.run
        source["runs"] = list(read.runs)
    monitor = diagnosis.monitor
    return {
        "schema_version": SCHEMA_VERSION,
        "source": source,
        "metrics": list(history.metrics),
        "metric_names": {name: series.original for name, series in history.epochs.items()},
        "epochs": history.n_epochs,
        "monitor": {
            "metric": monitor.metric,
            "mode": monitor.mode.value,
            "min_delta": json_number(monitor.min_delta),
        },
        "verdict": diagnosis.verdict.value,
        "confidence": diagnosis.confidence.value,
        "confidence_reason": diagnosis.confidence_reason or None,
        "explains": [k.value for k in diagnosis.explains],
        "findings": [finding_json(f) for f in diagnosis.findings],
        "recommendation": recommendation_json(diagnosis.recommendation),
        "next_command": result.next_command,
        "notes": list(history.notes),
    }


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "kind": finding.kind.value,
        "severity": finding.severity.value,
        "metric": finding.metric,
        "epoch_start": finding.epoch_start,
        "epoch_end": finding.epoch_end,
        "summary": finding.summary,
        "evidence": evidence_json(finding.evidence),
    }


def recommendation_json(recommendation: Recommendation) -> dict[str, Any]:
    return {
        "strategy": recommendation.strategy.value,
        "reason": recommendation.reason,
        "alternatives": [s.value for s in recommendation.alternatives],
        "actions": [{"id": a.id.value, "text": a.text} for a in recommendation.actions],
    }


def evidence_json(evidence: Mapping[str, object]) -> dict[str, Any]:
    return {str(key): json_value(value) for key, value in evidence.items()}


def json_value(value: object) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and not isinstance(value, (int, float)):
        value = value.item()  # numpy scalar
        if isinstance(value, bool):
            return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return json_number(value)
    return str(value)


def json_number(value: float) -> float | str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return 0.0
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
