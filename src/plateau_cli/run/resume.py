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
from plateau_cli.frameworks import adapter_for, import_user_code
from plateau_cli.history import RunHistory
from plateau_cli.monitor import Monitor
from plateau_cli.names import canonical_name, validation_name
from plateau_cli.observer import Level, NullObserver, Observer
from plateau_cli.out_claim import check_claim, input_paths, move_aside
from plateau_cli.out_lock import out_lock
from plateau_cli.outputs import check_out_dir, default_out_dir, sha256_of
from plateau_cli.report.model import FileRef, HealthNote, ResumeReport
from plateau_cli.report.writer import write_artefacts
from plateau_cli.run.balanced_judge import BalancedJudge
from plateau_cli.run.baseline_sample import baseline_train_metrics
from plateau_cli.run.batch_choice import prepare_at_batch_size, say_batch_size
from plateau_cli.run.batch_size import (
    BatchSize,
)
from plateau_cli.run.continuation import (
    CONTINUE_DIR,
    continuation_block,
)
from plateau_cli.run.final_metrics import measured_output
from plateau_cli.run.interrupt import InterruptGuard
from plateau_cli.run.judged_on import judged_on
from plateau_cli.run.log_baseline import check_baseline
from plateau_cli.run.preflight import preflight
from plateau_cli.run.report_build import build_report, describe_data, recovery_points
from plateau_cli.run.trainer import StopReason, Trainer, TrainerState
from plateau_cli.strategies import Strategy, StrategyContext, StrategyOutcome, build_strategy
from plateau_cli.strategies.rebalance import METRIC

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
    #: None: the run's own batch size (plateau_cli.run.batch_size), else 32.
    batch_size: int | None = None
    monitor: str = "val_loss"
    min_delta: float = 0.0
    patience: int | None = 5
    seed: int = 0
    out: Path | None = None
    load: LoadOptions = field(default_factory=LoadOptions)
    command_line: tuple[str, ...] = ()
    #: The run's log: auto's diagnosis uses it beside the checkpoint, and every strategy checks
    #: the baseline against its last validation value (data fed as in training?).
    log: Path | None = None
    #: Measure the baseline's training loss on every training example, not a seeded sample.
    full_train_eval: bool = False
    #: Move an earlier run in `out` aside instead of refusing (never recorded for --continue).
    overwrite: bool = False
    #: On imbalanced classes, monitor, restore and judge on validation balanced accuracy
    #: whatever the strategy (trial sets it: one fair yardstick for every candidate).
    judge_balanced: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise UsageError(f"--epochs must be >= 1. Received: {self.epochs}")
        if self.batch_size is not None and self.batch_size < 1:
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
    #: The batch size trained at and where it came from (None: as given in the request).
    batch_size: BatchSize | None = None
    #: What the baseline's training metrics were measured on (report.json `baseline_train_eval`).
    train_eval: Mapping[str, Any] | None = None
    #: Measures balanced accuracy after every epoch (`ResumeRequest.judge_balanced`).
    judge: BalancedJudge | None = None
    #: The metrics the model's validation pass reports (`val_loss`, ...), known when this
    #: process measured the baseline: the written checkpoint's are then taken from the pass that
    #: measured its weights (run/final_metrics.py). Empty: evaluated again after training.
    val_names: tuple[str, ...] = ()


#: Keras 3's TensorFlow trainer fails under MultiWorkerMirroredStrategy (its fit and evaluate
#: meet PerReplica values they cannot convert: keras-team/keras#20585, seen here with two local
#: workers), so the option is refused before anything loads rather than failing mid-run.
_MULTI_WORKER_REFUSAL = (
    "--distribute multi-worker: Keras 3 cannot train under TensorFlow's"
    " MultiWorkerMirroredStrategy (fit fails on PerReplica values, keras-team/keras#20585);"
    " use --distribute mirrored for the GPUs of one machine"
)


def check_load_options(framework: str, options: LoadOptions) -> None:
    if options.distribute and options.distribute.strip().lower() == "multi-worker":
        raise UsageError(_MULTI_WORKER_REFUSAL)
    if framework == "torch" and options.distribute:
        raise UsageError(
            "--distribute applies to Keras models; a PyTorch resume runs data-parallel under"
            " torchrun (torchrun --nproc_per_node=N -m plateau_cli resume ...)"
        )
    if framework == "keras" and options.sync_batchnorm:
        raise UsageError(
            "--sync-batchnorm applies to PyTorch under torchrun; a Keras model synchronises"
            " its statistics with BatchNormalization(synchronized=True) under --distribute"
        )


def _apply(
    strategy: Strategy,
    auto: Mapping[str, Any] | None,
    handle: ModelHandle,
    bundle: DataBundle,
    context: StrategyContext,
    request: ResumeRequest,
    observer: Observer,
) -> tuple[Strategy, StrategyOutcome, Mapping[str, Any] | None]:
    """Apply the strategy; a choice of auto that turns out not to apply falls back to lr-decay
    (said aloud and recorded), while a strategy the user named fails as bad input."""
    try:
        return strategy, strategy.apply(handle, bundle, context), auto
    except StrategyNotApplicableError as exc:
        if auto is None or strategy.name == "lr-decay":
            raise
        fallback = "lr-decay"
        observer.on_message(Level.WARNING, f"auto: {exc.message}; {fallback} instead")
        auto = {**auto, "fallback": f"{strategy.name} did not apply ({exc.message}): {fallback}"}
        strategy = build_strategy(fallback, options_for(fallback, request.strategy_options)[0])
        return strategy, strategy.apply(handle, bundle, context), auto


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
    log_history = _read_log(request.log) if request.log else None
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
    preflight(request.model, sniffed, spec, strategy.name if strategy is not None else None)
    out_dir = request.out or default_out_dir(
        request.model, strategy.name if strategy is not None else AUTO
    )
    check_out_dir(out_dir, request.model)
    inputs = input_paths(request.model, request.data, request.log, request.load.model_factory)
    check_claim(out_dir, inputs, overwrite=request.overwrite)
    with out_lock(out_dir):
        return _run_locked(
            request, observer, strategy, auto, auto_log, pause_after, spec, sniffed, out_dir,
            inputs, started, log_history,
        )  # fmt: skip


def _run_locked(
    request: ResumeRequest,
    observer: Observer,
    strategy: Strategy | None,
    auto: Mapping[str, Any] | None,
    auto_log: Any,
    pause_after: int | None,
    spec: DataSpec,
    sniffed: Sniffed,
    out_dir: Path,
    inputs: tuple[Path, ...],
    started: float,
    log_history: RunHistory | None,
) -> ResumeReport:
    """The run proper, with `out_dir` locked: nobody else writes there meanwhile."""
    input_sha = sha256_of(request.model)

    # 2. The framework, the model, the data.
    handle, bundle, loaded, health = open_run(request, request.model, sniffed, spec, observer)
    check_out_dir(out_dir, request.model, handle.checkpoint_name())
    check_claim(
        out_dir, inputs, overwrite=request.overwrite, checkpoint_name=handle.checkpoint_name()
    )

    # 3. Baseline and the change.
    request, batch, prepared = prepare_at_batch_size(request, handle, loaded, bundle, observer)
    baseline_val = _val_metrics(handle.evaluate(prepared, "val"))
    train_metrics, train_eval = baseline_train_metrics(request, handle, bundle, prepared)
    baseline = {**baseline_val, **train_metrics}
    monitor = resolve_monitor(request, baseline_val)
    log_notes = _log_agreement(request, log_history, baseline_val, monitor.metric, bundle)
    say_batch_size(batch, observer)
    context = StrategyContext(
        monitor,
        request.epochs,
        request.seed,
        request.batch_size,
        baseline=baseline,
        lr_override=request.load.lr if request.strategy != "lr-decay" else None,
        log=log_history,
        model_path=request.model,
        load=request.load,
    )
    if strategy is None:  # --strategy auto: the evidence chooses (rules in plateau_cli.auto)
        strategy, auto = choose_for_auto(
            request, handle, bundle, prepared, baseline, context, auto_log, observer
        )
    judge = BalancedJudge.for_run(handle, bundle, prepared) if request.judge_balanced else None
    if judge is not None:
        baseline[METRIC] = judge.measure()  # before the change (regularize may roll back)
    before = []
    if request.load.lr is not None and strategy.name != "lr-decay":
        old = handle.learning_rate()
        note = handle.set_learning_rate(request.load.lr)
        before.append(f"learning rate {old:g} -> {request.load.lr:g} (--lr)")
        before += [note] if note else []
    strategy, outcome, auto = _apply(strategy, auto, handle, bundle, context, request, observer)
    if before:
        outcome = dataclasses.replace(outcome, changes=(*before, *outcome.changes))
    for change in outcome.changes:
        observer.on_message(Level.INFO, change)
    if handle.train_transform is not None or handle.train_copies != 1:
        prepared = handle.prepare(bundle, request.batch_size, request.seed)
    monitor, baseline, extra = judged_on(strategy, handle, monitor, baseline, outcome)
    judge_notes: tuple[str, ...] = ()
    if judge is not None and monitor.metric != METRIC:
        monitor = Monitor.for_metric(METRIC, monitor.min_delta)
        extra = {**extra, **judge.metrics()}
        judge_notes = (judge.note,)
    elif judge is not None:
        judge = None  # the strategy judges on it itself (rebalance)
    unchanged = strategy.keeps_function and not (auto and "fallback" in auto)
    after_val = baseline_val if unchanged else _val_metrics(handle.evaluate(prepared, "val"))
    after_change = {**after_val, **extra}
    # The first write: an earlier run in --out (--overwrite) goes aside, whole, only now.
    moved = move_aside(out_dir, inputs, handle.checkpoint_name()) if request.overwrite else None
    moved_note: tuple[str, ...] = ()
    if moved is not None:
        moved_note = (f"--overwrite: the earlier run in {out_dir} was moved to {moved}",)
        observer.on_message(Level.INFO, moved_note[0])
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
        data=describe_data(bundle),
        health=tuple(health),
        notes=tuple(loaded.notes) + tuple(bundle.notes) + log_notes + moved_note + judge_notes,
        out_dir=out_dir,
        started=started,
        auto=auto,
        batch_size=batch,
        train_eval=train_eval,
        judge=judge,
        val_names=tuple(baseline_val),
    )
    # 4. Training and the artefacts.
    return train_and_report(setup, observer, pause_after=pause_after)


def _read_log(log: Path) -> RunHistory:
    from plateau_cli.logs import read_log

    return read_log(log).history


def _log_agreement(
    request: ResumeRequest,
    history: RunHistory | None,
    baseline_val: Mapping[str, float],
    metric: str,
    bundle: DataBundle,
) -> tuple[str, ...]:
    """Stop (exit 2) when the baseline is far from the log's last validation value."""
    if history is None or request.log is None:
        return ()
    fed = next((n for n in bundle.notes if n.startswith("pixels fed as")), None)
    agreed = check_baseline(history, request.log, baseline_val, metric, fed)
    return (agreed.note(),) if agreed is not None else ()


def open_run(
    request: ResumeRequest, path: Path, sniffed: Sniffed, spec: DataSpec, observer: Observer
) -> tuple[ModelHandle, DataBundle, ModelDescription, list[HealthNote]]:
    """Import the framework, load the checkpoint and the data, check they fit."""
    observer.on_phase(f"loading {sniffed.framework} and {path.name}")
    adapter = adapter_for(sniffed.framework)
    adapter.seed(request.seed)
    import_user_code(request.load)
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
    recovery = recovery_points(setup)
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
            after_epoch=recovery.after_epoch,
            extra_metrics=setup.judge.metrics if setup.judge is not None else None,
        )
        try:
            recovery.begin(trainer)
            state = trainer.run(setup.prepared, request.epochs - done, first_epoch=done + 1)
        except Exception:
            if resumed is None and not trainer.state.records:
                recovery.discard()  # nothing trained: a failed start leaves nothing behind
            raise
        output_metrics = measured_output(setup, state, trained_from=done)
        if output_metrics is None:
            output_metrics = _val_metrics(handle.evaluate(setup.prepared, "val"))
        records = tuple(state.records)
        interrupted = state.stop_reason in (StopReason.INTERRUPTED, StopReason.PAUSED)
        continuation = (
            continuation_block(
                f"{CONTINUE_DIR}/{handle.checkpoint_name()}", request, state, setup.strategy
            )
            if interrupted
            else None
        )
        report = build_report(setup, state, output_metrics, continuation)

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
