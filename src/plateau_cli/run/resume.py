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
from plateau_cli.adapters.base import LoadOptions, ModelDescription, ModelHandle, OptimizerInfo
from plateau_cli.adapters.sniff import Sniffed, sniff_checkpoint
from plateau_cli.auto.choice import (
    check_auto_options,
    choose_for_auto,
    diagnose_log_for_auto,
    options_for,
)
from plateau_cli.data import data_health, load_data, parse_data_spec
from plateau_cli.data.base import DataBundle, DataSpec
from plateau_cli.errors import StrategyNotApplicableError, UsageError
from plateau_cli.frameworks import adapter_for
from plateau_cli.monitor import Monitor
from plateau_cli.names import canonical_name, validation_name
from plateau_cli.observer import Level, NullObserver, Observer
from plateau_cli.outputs import check_out_dir, default_out_dir, sha256_of
from plateau_cli.report.model import FileRef, HealthNote, ResumeReport
from plateau_cli.report.writer import write_artefacts
from plateau_cli.run.continuation import (
    CONTINUE_DIR,
    continuation_block,
)
from plateau_cli.run.interrupt import InterruptGuard
from plateau_cli.run.trainer import StopReason, Trainer, TrainerState
from plateau_cli.strategies import Strategy, StrategyContext, StrategyOutcome, build_strategy

AUTO = "auto"


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
    #: `--strategy auto`: the run's log, whose diagnosis auto uses beside the checkpoint.
    log: Path | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise UsageError(f"--epochs must be >= 1. Received: {self.epochs}")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be >= 1. Received: {self.batch_size}")
        if self.patience is not None and self.patience < 1:
            raise UsageError(f"--patience must be >= 1. Received: {self.patience}")
        if self.log is not None and self.strategy != AUTO:
            raise UsageError(f"--log is read by --strategy auto only (not {self.strategy})")


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


@dataclass(frozen=True)
class RunSetup:
    """Everything decided before training: what the report says about the run's start."""

    request: ResumeRequest
    strategy: Strategy
    handle: ModelHandle
    bundle: DataBundle
    prepared: Any
    framework: str
    input: FileRef
    optimizer: OptimizerInfo
    monitor: Monitor
    outcome: StrategyOutcome
    baseline: Mapping[str, float]
    after_change: Mapping[str, float]
    data: Mapping[str, Any]
    health: tuple[HealthNote, ...]
    notes: tuple[str, ...]
    out_dir: Path
    started: float
    auto: Mapping[str, Any] | None = None
    #: Seconds an interrupted run already spent (`--continue`).
    duration_before: float = 0.0


def check_load_options(framework: str, options: LoadOptions) -> None:
    if framework == "torch" and options.distribute:
        raise UsageError(
            "--distribute applies to Keras models; a PyTorch resume runs data-parallel under"
            " torchrun (torchrun --nproc_per_node=N -m plateau_cli resume ...)"
        )
    if framework == "keras" and options.model_factory:
        raise UsageError(
            "--model-factory applies to PyTorch checkpoints only; a Keras file holds its own"
            " architecture"
        )


def run_resume(
    request: ResumeRequest,
    observer: Observer | None = None,
    strategy: Strategy | None = None,
    auto: Mapping[str, Any] | None = None,
    pause_after: int | None = None,
) -> ResumeReport:
    """The whole resume job; raises PlateauError subclasses for anything the user can fix.

    `pause_after` (used by `trial`) stops after that epoch with a continuable run.
    """
    started = time.monotonic()
    observer = observer or NullObserver()
    # 1. Everything that needs no framework: fails in milliseconds, writes nothing.
    auto_log = None
    if request.strategy == AUTO:
        check_auto_options(request.strategy_options)
        auto_log = diagnose_log_for_auto(request.log, request.monitor) if request.log else None
    else:
        strategy = strategy or build_strategy(request.strategy, request.strategy_options)
    spec = parse_data_spec(
        request.data, target=request.target, val_split=request.val_split, seed=request.seed
    )
    sniffed = sniff_checkpoint(request.model)
    check_load_options(sniffed.framework, request.load)
    out_dir = request.out or default_out_dir(
        request.model, strategy.name if strategy is not None else AUTO
    )
    check_out_dir(out_dir, request.model)
    input_sha = sha256_of(request.model)

    # 2. The framework, the model, the data.
    handle, bundle, loaded, health = open_run(request, request.model, sniffed, spec, observer)
    check_out_dir(out_dir, request.model, handle.checkpoint_name())

    # 3. Baseline and the change.
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
        lr_override=request.load.lr if request.strategy != "lr-decay" else None,
    )
    if strategy is None:  # --strategy auto: the evidence chooses (rules in plateau_cli.auto)
        strategy, auto = choose_for_auto(
            request, handle, bundle, prepared, baseline, context, auto_log, observer
        )
    before = []
    if request.load.lr is not None and strategy.name != "lr-decay":
        old = handle.learning_rate()
        note = handle.set_learning_rate(request.load.lr)
        before.append(f"learning rate {old:g} -> {request.load.lr:g} (--lr)")
        before += [note] if note else []
    try:
        outcome = strategy.apply(handle, bundle, context)
    except StrategyNotApplicableError as exc:
        if auto is None or strategy.name == "lr-decay":
            raise
        fallback = "lr-decay"
        observer.on_message(Level.WARNING, f"auto: {exc.message}; {fallback} instead")
        auto = {**auto, "fallback": f"{strategy.name} did not apply ({exc.message}): {fallback}"}
        strategy = build_strategy(fallback, options_for(fallback, request.strategy_options)[0])
        outcome = strategy.apply(handle, bundle, context)
    if before:
        outcome = dataclasses.replace(outcome, changes=(*before, *outcome.changes))
    for change in outcome.changes:
        observer.on_message(Level.INFO, change)
    if handle.train_transform is not None or handle.train_copies != 1:
        prepared = handle.prepare(bundle, request.batch_size, request.seed)
    after_change = _val_metrics(handle.evaluate(prepared, "val"))
    setup = RunSetup(
        request=request,
        strategy=strategy,
        handle=handle,
        bundle=bundle,
        prepared=prepared,
        framework=sniffed.framework,
        input=FileRef(request.model, input_sha, handle.format),
        optimizer=loaded.optimizer,
        monitor=monitor,
        outcome=outcome,
        baseline=baseline,
        after_change=after_change,
        data=_describe_data(bundle),
        health=tuple(health),
        notes=tuple(loaded.notes) + tuple(bundle.notes),
        out_dir=out_dir,
        started=started,
        auto=auto,
    )
    # 4. Training and the artefacts.
    return train_and_report(setup, observer, pause_after=pause_after)


def open_run(
    request: ResumeRequest, path: Path, sniffed: Sniffed, spec: DataSpec, observer: Observer
) -> tuple[ModelHandle, DataBundle, ModelDescription, list[HealthNote]]:
    """Import the framework, load the checkpoint and the data, check they fit."""
    observer.on_phase(f"loading {sniffed.framework} and {path.name}")
    adapter = adapter_for(sniffed.framework)
    adapter.seed(request.seed)
    handle = adapter.load(path, sniffed.format, request.load)
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
    return handle, bundle, loaded, health


def train_and_report(
    setup: RunSetup,
    observer: Observer,
    resumed: TrainerState | None = None,
    best_snapshot: Any = None,
    pause_after: int | None = None,
) -> ResumeReport:
    """Train, then write every artefact. The interrupt guard stays up until the files are
    written, so a Ctrl-C at any point after training started still ends in a saved run."""
    request, handle, monitor = setup.request, setup.handle, setup.monitor
    done = len(resumed.records) if resumed else 0
    with InterruptGuard() as guard:
        trainer = Trainer(
            handle,
            setup.strategy,
            monitor,
            patience=request.patience,
            guard=guard,
            observer=observer,
            start_value=setup.after_change.get(monitor.metric),
            resumed=resumed,
            best_snapshot=best_snapshot,
            pause_after=pause_after,
        )
        state = trainer.run(setup.prepared, request.epochs - done, first_epoch=done + 1)
        output_metrics = _val_metrics(handle.evaluate(setup.prepared, "val"))
        records = tuple(state.records)
        best = (
            dict(records[state.best_epoch - 1].metrics)
            if state.best_epoch
            else {**setup.after_change}
        )
        best_value = best.get(monitor.metric)
        improved = best_value is not None and monitor.is_improvement(
            best_value, setup.baseline.get(monitor.metric)
        )
        interrupted = state.stop_reason in (StopReason.INTERRUPTED, StopReason.PAUSED)
        continuation = (
            continuation_block(
                f"{CONTINUE_DIR}/{handle.checkpoint_name()}", request, state, setup.strategy
            )
            if interrupted
            else None
        )
        report = ResumeReport(
            tool_version=__version__,
            command_line=request.command_line,
            framework=setup.framework,
            input=setup.input,
            output=None,
            out_dir=setup.out_dir,
            strategy=setup.strategy.name,
            outcome=setup.outcome,
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
            batch_size=request.batch_size,
            duration_s=0.0,
            auto=setup.auto,
            continuation=continuation,
        )

        def save_continuation(out_dir: Path) -> None:
            """The last completed epoch's weights, for `--continue`, beside the best ones."""
            restored = trainer.restore_last()
            handle.save(out_dir / CONTINUE_DIR / handle.checkpoint_name(), epochs_done=len(records))
            if restored:
                trainer.restore_best()

        if not handle.is_main_process:
            return report  # under torchrun only rank 0 writes (run/distributed.py)
        return write_artefacts(
            report,
            handle,
            setup.out_dir,
            setup.started - setup.duration_before,
            continuation=save_continuation if interrupted else None,
        )


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
