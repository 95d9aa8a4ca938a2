"""`plateau-cli diagnose`: detectors over a RunHistory -> findings -> one recommendation.

    diagnose(history, options)   the pure core: findings, verdict, recommendation
    diagnose_log(path, options)  read a log, diagnose it, and suggest the command to run next
    to_json(result)              the --json document (schema_version 1)

One module per detector (divergence, no_learning, chance_level, majority_class, overfitting,
oscillation, plateau + fit_state, slow_convergence); verdict.py runs them and picks the
primary finding; recommend.py turns findings into a strategy and actions. numpy only, so a
50-epoch log diagnoses in milliseconds and nothing heavy is imported.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from plateau_cli.diagnose.base import (
    Action,
    ActionId,
    Confidence,
    DiagnoseOptions,
    DiagnoseResult,
    Diagnosis,
    Finding,
    FindingKind,
    Recommendation,
    Severity,
    StrategyName,
)
from plateau_cli.diagnose.confidence import assess
from plateau_cli.diagnose.context import build_context, choose_monitor
from plateau_cli.diagnose.data_classes import classes_from_data
from plateau_cli.diagnose.json_output import to_json
from plateau_cli.diagnose.next_command import next_command
from plateau_cli.diagnose.recommend import recommend
from plateau_cli.diagnose.verdict import explained, find_all
from plateau_cli.history import RunHistory


def diagnose(history: RunHistory, options: DiagnoseOptions | None = None) -> Diagnosis:
    """Findings (primary first), the verdict and the recommendation for one run."""
    options = options or DiagnoseOptions()
    monitor = choose_monitor(history, options)
    # Logs hold absurd values too (1e300, 5e-324): they overflow to inf, which the detectors
    # handle; numpy's warnings about it would only be noise on the user's terminal.
    with np.errstate(all="ignore"):
        context = build_context(history, options, monitor)
        findings, stall = find_all(context)
        confidence, why = assess(context, findings)
    return Diagnosis(
        history=history,
        monitor=monitor,
        verdict=findings[0].kind,
        findings=tuple(findings),
        recommendation=recommend(findings, stall),
        explains=explained(findings),
        confidence=confidence,
        confidence_reason=why,
    )


def diagnose_log(
    path: Path,
    options: DiagnoseOptions,
    *,
    run: str | None = None,
    model: str | None = None,
    data: str | None = None,
) -> DiagnoseResult:
    """Read the log at `path` (any supported format), diagnose it, and build the next command.

    `model` and `data` go into the suggested `plateau-cli resume` line (placeholders if None).
    """
    from plateau_cli.logs import read_log

    read = read_log(Path(path), run)
    if data is not None and options.num_classes is None:
        found = classes_from_data(data)
        if found.count is not None:
            options = dataclasses.replace(
                options, num_classes=found.count, num_classes_source="the labels in --data"
            )
        elif found.note is not None:
            history = dataclasses.replace(read.history, notes=(*read.history.notes, found.note))
            read = dataclasses.replace(read, history=history)
    # Checked here first so that a wrong --monitor names the file in its message.
    choose_monitor(read.history, options, source=str(path))
    diagnosis = diagnose(read.history, options)
    command = next_command(diagnosis.recommendation.strategy, model=model, data=data)
    return DiagnoseResult(diagnosis=diagnosis, read=read, next_command=command)


__all__ = [
    "Action",
    "ActionId",
    "Confidence",
    "DiagnoseOptions",
    "DiagnoseResult",
    "Diagnosis",
    "Finding",
    "FindingKind",
    "Recommendation",
    "Severity",
    "StrategyName",
    "diagnose",
    "diagnose_log",
    "to_json",
]
