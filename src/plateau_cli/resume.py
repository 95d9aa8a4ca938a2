"""`resume`: load -> check data -> baseline -> apply the strategy -> train -> save -> report.

The order matters for the promises in DESIGN.md: every check that needs no framework runs first
(options, paths, output directory), so bad input fails fast with nothing written; the data is
checked against the model before any training; the output directory is created only when the
first artefact is written; SIGINT/SIGTERM during training still end with the best checkpoint
and a report marked `interrupted`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plateau_cli import __version__
from plateau_cli.adapters.base import LoadOptions
from plateau_cli.adapters.sniff import sniff_checkpoint
from plateau_cli.data import data_health, load_data, parse_data_spec
from plateau_cli.data.base import DataBundle
from plateau_cli.errors import UsageError
from plateau_cli.frameworks import adapter_for
from plateau_cli.interrupt import InterruptGuard
from plateau_cli.monitor import Monitor
from plateau_cli.names import canonical_name, validation_name
from plateau_cli.observer import Level, NullObserver, Observer
from plateau_cli.outputs import check_out_dir, default_out_dir, sha256_of
from plateau_cli.report.model import FileRef, HealthNote, ResumeReport
from plateau_cli.report.writer import write_artefacts
from plateau_cli.strategies import Strategy, StrategyContext, build_strategy
from plateau_cli.trainer import StopReason, Trainer


@dataclass(frozen=True)
class ResumeRequest:
    model: Path
    strategy: str
    data: str
    strategy_options: Mapping[str, Any] = field(default_factory=dict)
    target: str | None = None
    val_split: float | None = None
    image_size: tuple[int, int] | None = None
    epochs: int = 10
    batch_size: int = 32
    monitor: str = "val_loss"
    min_delta: float = 0.0
    patience: int | None = 5
    seed: int = 0
    out: Path | None = None
    load: LoadOptions = field(default_factory=LoadOptions)
    command_line: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise UsageError(f"--epochs must be >= 1. Received: {self.epochs}")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be >= 1. Received: {self.batch_size}")
        if self.patience is not None and self.patience < 1:
            raise UsageError(f"--patience must be >= 1. Received: {self.patience}")


def _val_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    return {validation_name(k): v for k, v in metrics.items()}


def resolve_monitor(request: ResumeRequest, available: Mapping[str, float]) -> Monitor:
    metric = canonical_name(request.monitor)
    if metric not in available:
        names = ", ".join(sorted(available))
        raise UsageError(
            f"--monitor {request.monitor!r}: the model reports no such metric; available: {names}"
        )
    return Monitor.for_metric(metric, request.min_delta)


def run_resume(
    request: ResumeRequest,
    observer: Observer | None = None,
    strategy: Strategy | None = None,
    auto: Mapping[str, Any] | None = None,
) -> ResumeReport:
    """The whole resume job; raises PlateauError subclasses for anything the user can fix."""
    started = time.monotonic()
    observer = observer or NullObserver()
    # 1. Everything that needs no framework: fails in milliseconds, writes nothing.
    strategy = strategy or build_strategy(request.strategy, request.strategy_options)
    spec = parse_data_spec(
        request.data, target=request.target, val_split=request.val_split, seed=request.seed
    )
    sniffed = sniff_checkpoint(request.model)
    out_dir = request.out or default_out_dir(request.model, strategy.name)
    check_out_dir(out_dir, request.model)
    input_sha = sha256_of(request.model)

    # 2. The framework, the model, the data.
    observer.on_phase(f"loading {sniffed.framework} and {request.model.name}")
    adapter = adapter_for(sniffed.framework)
    adapter.seed(request.seed)
    handle = adapter.load(request.model, sniffed.format, request.load)
    check_out_dir(out_dir, request.model, handle.checkpoint_name())
    io = handle.io_spec()
    bundle = load_data(spec, io, image_size=request.image_size)
    handle.check_data(bundle)
    # Described after the data check: the torch adapter settles the loss from the labels there.
    loaded = handle.describe()
    if loaded.optimizer.detail:
        observer.on_message(Level.WARNING, f"optimizer: {loaded.optimizer.detail}")
    health = [HealthNote(w.id, w.text, w.evidence) for w in data_health(bundle, io)]
    for note in health:
        observer.on_message(Level.WARNING, note.text)

    # 3. Baseline, the change, training.
    observer.on_phase("evaluating the baseline")
    prepared = handle.prepare(bundle, request.batch_size, request.seed)
    baseline_val = _val_metrics(handle.evaluate(prepared, "val"))
    baseline = {**baseline_val, **handle.evaluate(prepared, "train")}
    monitor = resolve_monitor(request, baseline_val)
    context = StrategyContext(
        monitor,
        request.epochs,
        request.seed,
        request.batch_size,
        baseline=baseline,
        lr_override=request.load.lr if "lr" not in request.strategy_options else None,
    )
    before = []
    if request.load.lr is not None and "lr" not in request.strategy_options:
        old = handle.learning_rate()
        note = handle.set_learning_rate(request.load.lr)
        before.append(f"learning rate {old:g} -> {request.load.lr:g} (--lr)")
        before += [note] if note else []
    outcome = strategy.apply(handle, bundle, context)
    if before:
        outcome = dataclasses.replace(outcome, changes=(*before, *outcome.changes))
    for change in outcome.changes:
        observer.on_message(Level.INFO, change)
    if handle.train_transform is not None or handle.train_copies != 1:
        prepared = handle.prepare(bundle, request.batch_size, request.seed)
    after_change = _val_metrics(handle.evaluate(prepared, "val"))

    with InterruptGuard() as guard:
        trainer = Trainer(
            handle,
            strategy,
            monitor,
            patience=request.patience,
            guard=guard,
            observer=observer,
            start_value=after_change.get(monitor.metric),
        )
        state = trainer.run(prepared, request.epochs)
        output_metrics = _val_metrics(handle.evaluate(prepared, "val"))

    # 4. The artefacts (signals are ignored while they are written).
    records = tuple(state.records)
    best = dict(records[state.best_epoch - 1].metrics) if state.best_epoch else {**after_change}
    best_value = best.get(monitor.metric)
    improved = best_value is not None and monitor.is_improvement(
        best_value, baseline_val.get(monitor.metric)
    )
    report = ResumeReport(
        tool_version=__version__,
        command_line=request.command_line,
        framework=sniffed.framework,
        input=FileRef(request.model, input_sha, handle.format),
        output=None,
        out_dir=out_dir,
        strategy=strategy.name,
        outcome=outcome,
        optimizer=loaded.optimizer,
        monitor=monitor,
        baseline=baseline,
        after_change=after_change,
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
        data=_describe_data(bundle),
        health=tuple(health),
        notes=tuple(loaded.notes) + tuple(bundle.notes),
        seed=request.seed,
        batch_size=request.batch_size,
        duration_s=0.0,
        auto=auto,
    )
    return write_artefacts(report, handle, out_dir, started)


def _describe_data(bundle: DataBundle) -> dict[str, Any]:
    out: dict[str, Any] = {"source": bundle.source, "format": bundle.format}
    if bundle.is_arrays:
        out |= {
            "train_samples": len(bundle.train),
            "val_samples": len(bundle.val),
            "input_shape": list(bundle.train.x.shape[1:]),
        }
    if bundle.class_names:
        out["classes"] = list(bundle.class_names)
    return out
