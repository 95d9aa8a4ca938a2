"""auto inside `resume`: read the log early, choose after the baseline, record why."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plateau_cli.adapters.base import ModelHandle
from plateau_cli.auto.evidence import gather
from plateau_cli.auto.rules import NOTHING, Choice, choose, needs_range_test
from plateau_cli.data.base import DataBundle
from plateau_cli.diagnose.base import DiagnoseOptions, Diagnosis
from plateau_cli.errors import NothingToChange, PlateauError, UsageError
from plateau_cli.names import canonical_name
from plateau_cli.observer import Level, Observer
from plateau_cli.strategies import Strategy, StrategyContext, build_strategy, option_owner
from plateau_cli.wording import plain


def check_auto_options(given: Mapping[str, Any]) -> None:
    """Strategy options with auto must belong to some strategy; they apply if it is chosen."""
    for option in given:
        if not option_owner(option):
            flag = "--" + option.replace("_", "-")
            raise UsageError(f"{flag} is not an option of any strategy")


def options_for(strategy: str, given: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The given options the chosen strategy takes, and the flags it ignores."""
    kept = {k: v for k, v in given.items() if strategy in option_owner(k)}
    ignored = ["--" + k.replace("_", "-") for k in given if k not in kept]
    return kept, ignored


def diagnose_log_for_auto(log: Path, monitor: str) -> Diagnosis:
    """The log's diagnosis (before any framework loads: a bad log fails in milliseconds)."""
    from plateau_cli.diagnose import diagnose
    from plateau_cli.logs import read_log

    history = read_log(log).history
    metric = canonical_name(monitor)
    return diagnose(history, DiagnoseOptions(monitor=metric if metric in history.epochs else None))


def choose_for_auto(
    request: Any,
    handle: ModelHandle,
    bundle: DataBundle,
    prepared: Any,
    baseline: Mapping[str, float],
    context: StrategyContext,
    diagnosis: Diagnosis | None,
    observer: Observer,
) -> tuple[Strategy, dict[str, Any]]:
    evidence = gather(handle, bundle, prepared, baseline, context, diagnosis)
    evidence = dataclasses.replace(evidence, rollback=_rollback_evidence(context))
    if needs_range_test(evidence):
        evidence = dataclasses.replace(evidence, range_lr=_range_lr(handle, bundle, context))
    choice = choose(evidence)
    if choice.strategy == NOTHING:
        record = auto_record(choice, evidence.to_json(), request.log, [])
        raise NothingToChange(f"auto: {choice.reason}; nothing trained, nothing written", record)
    options, ignored = options_for(choice.strategy, request.strategy_options)
    if choice.strategy == "lr-decay" and request.load.lr is not None:
        options["lr"] = request.load.lr  # --lr is lr-decay's new rate
    observer.on_message(Level.INFO, f"auto chose {choice.strategy}: {plain(choice.reason)}")
    record = auto_record(choice, evidence.to_json(), request.log, ignored)
    return build_strategy(choice.strategy, options), record


def auto_record(
    choice: Choice, evidence: Mapping[str, Any], log: Path | None, ignored: list[str]
) -> dict[str, Any]:
    return {
        "chosen": choice.strategy,
        "rule": choice.rule,
        "reason": choice.reason,
        "alternatives": list(choice.alternatives),
        "log": str(log) if log else None,
        "evidence": dict(evidence),
        "ignored_options": ignored,
    }


def _rollback_evidence(context: StrategyContext) -> dict[str, Any] | None:
    """The best epoch's checkpoint beside the model, when the log is past that epoch."""
    from plateau_cli.strategies.regularize.rollback import checkpoint_of_epoch, past_best

    if context.log is None or context.model_path is None:
        return None
    past = past_best(context.log, context.monitor)
    if past is None:
        return None
    found = checkpoint_of_epoch(context.model_path, past.best_epoch)
    if found is None:
        return None
    return {
        "file": found.name,
        "best_epoch": past.best_epoch,
        "best_value": past.best_value,
        "last_epoch": past.last_epoch,
        "last_value": past.last_value,
        "metric": past.metric,
    }


def _range_lr(handle: ModelHandle, bundle: DataBundle, context: StrategyContext) -> float | None:
    """lr-find's range test from the checkpoint (the model and optimizer are left exactly as
    they were); the rate it suggests, or None where it finds none or cannot run."""
    from plateau_cli.strategies.lr_find import find_rate
    from plateau_cli.strategies.lr_find.options import LrFindOptions

    try:
        suggestion = find_rate(handle, bundle, context, LrFindOptions())["suggestion"]
    except PlateauError:
        return None
    return float(suggestion.lr) if suggestion is not None else None
