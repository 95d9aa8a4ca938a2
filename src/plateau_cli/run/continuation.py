"""What an interrupted resume leaves behind so that `resume --continue OUT_DIR` can go on.

On SIGINT/SIGTERM the output directory gets, besides the deliverable checkpoint (the best
weights) and the report marked `interrupted`, a continuation checkpoint of the LAST completed
epoch in `.continue/`, and report.json gets a `continuation` block: the request as given, the
trainer's decisions (best epoch, patience counter) and the strategy's own position (a schedule's
counters, the stages still to unfreeze). `--continue` reads both back; nothing else is needed,
so the continued run can even start on another machine with the same data.

`--trust-pickle` is deliberately not recorded: a continued run must be granted it again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plateau_cli.adapters.base import LoadOptions, OptimizerInfo, OptimizerState
from plateau_cli.errors import BadInputError, UsageError
from plateau_cli.monitor import Mode, Monitor
from plateau_cli.outputs import CONTINUE_DIR, REPORT_JSON
from plateau_cli.report.model import FileRef, HealthNote
from plateau_cli.run.continue_checks import Grants, check_report, inside
from plateau_cli.run.trainer import EpochRecord, StopReason, TrainerState
from plateau_cli.strategies.base import StrategyOutcome

__all__ = ["CONTINUE_DIR", "Interrupted", "read_interrupted"]


@dataclass(frozen=True)
class Interrupted:
    """An interrupted run as read back from its output directory."""

    out_dir: Path
    doc: Mapping[str, Any]
    checkpoint: Path
    request: Mapping[str, Any]
    trainer: TrainerState
    strategy_state: Mapping[str, Any]


def request_block(request: Any) -> dict[str, Any]:
    """The ResumeRequest as JSON (trust_pickle deliberately left out)."""
    load: LoadOptions = request.load
    return {
        "model": str(request.model),
        "strategy": request.strategy,
        "strategy_options": dict(request.strategy_options),
        "data": request.data,
        "target": request.target,
        "val_split": request.val_split,
        "image_size": list(request.image_size) if request.image_size else None,
        "epochs": request.epochs,
        "batch_size": request.batch_size,
        "monitor": request.monitor,
        "min_delta": request.min_delta,
        "patience": request.patience,
        "seed": request.seed,
        "judge_balanced": request.judge_balanced,
        "load": {
            "model_factory": load.model_factory,
            "factory_args": dict(load.factory_args),
            "loss": load.loss,
            "optimizer": load.optimizer,
            "lr": load.lr,
            "device": load.device,
            "sync_batchnorm": load.sync_batchnorm,
            # Recorded, never imported from here: --continue needs --import again.
            "imports": list(load.imports),
        },
    }


def continuation_block(checkpoint: str, request: Any, state: TrainerState, strategy: Any) -> dict:
    block = request_block(request)
    # `--strategy auto` continues with what it chose, and the options that strategy takes.
    block["strategy"] = strategy.name
    block["strategy_options"] = {
        k: v for k, v in block["strategy_options"].items() if k in strategy.option_names
    }
    return {
        "checkpoint": checkpoint,
        "request": block,
        "trainer": {
            "best_epoch": state.best_epoch,
            "best_value": state.best_value,
            "wait": state.wait,
        },
        "strategy_state": strategy.continuation_state(),
    }


def read_interrupted(out_dir: Path) -> Interrupted:
    """Read an interrupted run back; one clear line for anything that cannot be continued."""
    report = out_dir / REPORT_JSON
    if not out_dir.is_dir():
        raise BadInputError(f"--continue {out_dir}: no such directory")
    if not report.is_file():
        raise BadInputError(
            f"--continue {out_dir}: no {REPORT_JSON}; it is not the output of plateau-cli resume"
        )
    try:
        doc = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise BadInputError(f"--continue {report}: unreadable ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("schema_version") != 1:
        raise BadInputError(f"--continue {report}: not a plateau-cli report (schema_version 1)")
    reason = doc.get("stopped_reason")
    block = doc.get("continuation")
    continuable = (StopReason.INTERRUPTED.value, StopReason.PAUSED.value)
    if reason not in continuable or not isinstance(block, dict):
        raise UsageError(
            f"--continue {out_dir}: nothing to continue: that run ended"
            f" ({reason or 'unknown'}), it was not interrupted; to train further, start a new"
            f" run from its checkpoint: {_train_further(out_dir, doc)}"
        )
    check_report(doc, report)
    checkpoint = inside(out_dir, block["checkpoint"], "the continuation checkpoint")
    if not checkpoint.exists():
        raise BadInputError(
            f"--continue {out_dir}: the continuation checkpoint {checkpoint} is gone"
        )
    records = [
        EpochRecord(
            int(row["epoch"]),
            row.get("lr"),
            {k: _float(v) for k, v in row.items() if k not in ("epoch", "lr")},
        )
        for row in doc["history"]
    ]
    trainer = block["trainer"]
    state = TrainerState(
        records=records,
        best_epoch=int(trainer["best_epoch"]),
        best_value=trainer["best_value"],
        wait=int(trainer["wait"]),
        events=list(doc.get("events", [])),
    )
    return Interrupted(
        out_dir, doc, checkpoint, block["request"], state, block.get("strategy_state") or {}
    )


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


def load_options(
    block: Mapping[str, Any],
    trust_pickle: bool,
    device: str | None,
    details: Mapping[str, Any],
    grants: Grants,
    imports: tuple[str, ...] = (),
) -> LoadOptions:
    """The interrupted run's load options, with the factory the user named again (`grants`);
    a widened torch module is rebuilt with the factory arguments widen recorded for it
    (`details.factory_args`: plain values, passed to the function the user named). Modules the
    run imported are recorded in the report but imported only when named again with --import:
    a report is data, and reading one must not run code."""
    load = block["load"]
    missing = [name for name in load.get("imports") or () if name not in imports]
    if missing:
        named = " ".join(f"--import {name}" for name in missing)
        raise UsageError(
            f"the interrupted run imported {', '.join(missing)}; give {named} with --continue"
            " (code named in a report is never imported on its own)"
        )
    return LoadOptions(
        trust_pickle=trust_pickle,
        model_factory=grants.model_factory,
        factory_args=details.get("factory_args") or grants.factory_args or {},
        loss=load.get("loss"),
        optimizer=load.get("optimizer"),
        lr=None,  # already applied in the interrupted run; its optimizer state holds the rate
        device=device or load.get("device") or "auto",
        sync_batchnorm=bool(load.get("sync_batchnorm")),
        imports=tuple(imports),
    )


def outcome_from(doc: Mapping[str, Any]) -> StrategyOutcome:
    strategy = doc["strategy"]
    changes, events = doc["changes"], doc.get("events", [])
    return StrategyOutcome(
        changes=tuple(changes[: len(changes) - len(events)]),
        parameters=strategy["parameters"],
        optimizer_state=OptimizerState(doc["optimizer"]["state"]),
        optimizer_detail=doc["optimizer"].get("detail"),
        details=strategy.get("details") or {},
    )


def optimizer_from(doc: Mapping[str, Any]) -> OptimizerInfo:
    o = doc["optimizer"]
    return OptimizerInfo(
        name=o.get("name"),
        learning_rate=o.get("learning_rate_at_load"),
        state=OptimizerState(o["loaded_state"]),
        iterations=o.get("iterations_at_load"),
        detail=o.get("loaded_detail"),
    )


def monitor_from(doc: Mapping[str, Any]) -> Monitor:
    m = doc["monitor"]
    return Monitor(m["metric"], Mode(m["mode"]), float(m["min_delta"]))


def input_from(doc: Mapping[str, Any]) -> FileRef:
    i = doc["input"]
    return FileRef(Path(i["path"]), i["sha256"], i.get("format"))


def health_from(doc: Mapping[str, Any]) -> tuple[HealthNote, ...]:
    return tuple(HealthNote(h["id"], h["text"], h.get("evidence") or {}) for h in doc["health"])


def metrics_from(values: Mapping[str, Any]) -> dict[str, float]:
    return {k: _float(v) for k, v in values.items()}


def _train_further(out_dir: Path, doc: dict[str, Any]) -> str:
    """The command that trains a finished run's checkpoint further (a new run, new --epochs)."""
    output = doc.get("output")
    path = output.get("path") if isinstance(output, dict) else None
    data_doc = doc.get("data")
    data = data_doc.get("source") if isinstance(data_doc, dict) else None
    line = [str(w) for w in doc.get("command_line") or []]
    # A torch checkpoint is rebuilt by the same factory: carry its options over as given.
    loading = [
        f"{flag} {line[i + 1]}"
        for i, flag in enumerate(line[:-1])
        if flag in ("--model-factory", "--factory-arg")
    ]
    unknown = doc.get("framework") == "torch" and not loading
    command = " ".join(
        [
            f"plateau-cli resume {path or out_dir / 'MODEL'} --strategy STRATEGY",
            f"--data {data or 'DATA'}",
            *loading,
            "--epochs N",
        ]
    )
    return command + (" (with the first run's --model-factory options)" if unknown else "")
