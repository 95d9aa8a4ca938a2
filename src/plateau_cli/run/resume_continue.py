"""`resume --continue OUT_DIR`: go on with an interrupted (or paused) run.

Everything comes from the run's own output directory (plateau_cli.run.continuation reads it): the
request as it was given, the last completed epoch's checkpoint, the trainer's decisions and the
strategy's position. The change is not made again; the strategy only re-attaches what a
checkpoint cannot hold (`Strategy.reattach`), and the final report covers the whole run.
"""

from __future__ import annotations

import time
from pathlib import Path

from plateau_cli.adapters.sniff import sniff_checkpoint
from plateau_cli.data import parse_data_spec
from plateau_cli.frameworks import adapter_for
from plateau_cli.observer import Level, NullObserver, Observer
from plateau_cli.out_lock import out_lock
from plateau_cli.report.model import ResumeReport
from plateau_cli.run.balanced_judge import BalancedJudge
from plateau_cli.run.batch_size import DEFAULT_BATCH_SIZE, OPTION, BatchSize
from plateau_cli.run.continuation import (
    health_from,
    input_from,
    load_options,
    metrics_from,
    monitor_from,
    optimizer_from,
    outcome_from,
)
from plateau_cli.run.continue_checks import GivenAgain, grant, inside
from plateau_cli.run.recovery import best_checkpoint, read_latest
from plateau_cli.run.resume import ResumeRequest, RunSetup, open_run, train_and_report
from plateau_cli.strategies import StrategyContext, build_strategy
from plateau_cli.strategies.rebalance import METRIC


def continue_resume(
    out_dir: Path,
    observer: Observer | None = None,
    *,
    trust_pickle: bool = False,
    device: str | None = None,
    command_line: tuple[str, ...] = (),
    pause_after: int | None = None,
    given: GivenAgain | None = None,
    imports: tuple[str, ...] = (),
) -> ResumeReport:
    """`_continue_resume` with OUT_DIR locked: two continuations of one run cannot interleave."""
    if not out_dir.is_dir():
        read_latest(out_dir)  # says what is wrong with it, in one line
    with out_lock(out_dir):
        return _continue_resume(
            out_dir, observer, trust_pickle=trust_pickle, device=device,
            command_line=command_line, pause_after=pause_after, given=given, imports=imports,
        )  # fmt: skip


def _continue_resume(
    out_dir: Path,
    observer: Observer | None = None,
    *,
    trust_pickle: bool = False,
    device: str | None = None,
    command_line: tuple[str, ...] = (),
    pause_after: int | None = None,
    given: GivenAgain | None = None,
    imports: tuple[str, ...] = (),
) -> ResumeReport:
    """`resume --continue OUT_DIR`: go on from an interrupted run's last completed epoch.

    Nothing is done twice: the change is not applied again (the continuation checkpoint has
    it), finished epochs are not rerun, and the final report covers the whole run.
    """
    started = time.monotonic()
    observer = observer or NullObserver()
    run = read_latest(out_dir)  # report.json, or the later per-epoch recovery point
    req = run.request
    grants = grant(out_dir, req, given or GivenAgain())
    for line in grants.messages:
        observer.on_message(Level.INFO, line)
    request = ResumeRequest(
        model=Path(req["model"]),
        strategy=req["strategy"],
        data=grants.data,
        strategy_options=req["strategy_options"],
        target=req["target"],
        val_split=req["val_split"],
        image_size=tuple(req["image_size"]) if req["image_size"] else None,  # type: ignore[arg-type]
        epochs=int(req["epochs"]),
        batch_size=int(req["batch_size"]),
        monitor=req["monitor"],
        min_delta=float(req["min_delta"]),
        patience=req["patience"],
        seed=int(req["seed"]),
        judge_balanced=req.get("judge_balanced") is True,
        out=out_dir,
        load=load_options(
            req,
            trust_pickle,
            device,
            run.doc["strategy"].get("details") or {},
            grants,
            imports,
        ),
        command_line=command_line or tuple(run.doc.get("command_line", ())),
    )
    strategy = build_strategy(request.strategy, request.strategy_options)
    spec = parse_data_spec(
        request.data, target=request.target, val_split=request.val_split, seed=request.seed
    )
    sniffed = sniff_checkpoint(run.checkpoint)
    handle, bundle, _, _ = open_run(request, run.checkpoint, sniffed, spec, observer)
    best_path = best_checkpoint(
        run, inside(out_dir, handle.checkpoint_name(), "the best checkpoint")
    )
    best_snapshot = (
        adapter_for(sniffed.framework).load(best_path, sniffed.format, request.load).snapshot()
        if best_path.exists()
        else None
    )
    monitor = monitor_from(run.doc)
    baseline = metrics_from(run.doc["baseline"])
    done = len(run.trainer.records)
    context = StrategyContext(
        monitor, request.epochs, request.seed, request.batch_size, baseline=baseline
    )
    again = strategy.reattach(handle, bundle, context, run.strategy_state, done)
    run.trainer.events.append(f"continued after epoch {done} of {request.epochs}")
    run.trainer.events.extend(again)
    for line in run.trainer.events[-1 - len(again) :]:
        observer.on_message(Level.INFO, line)
    prepared = handle.prepare_continued(bundle, request.batch_size, request.seed, done)
    judge = (
        BalancedJudge.for_run(handle, bundle, prepared)
        if request.judge_balanced and monitor.metric == METRIC and strategy.monitored_metric is None
        else None
    )
    doc = run.doc
    setup = RunSetup(
        request=request,
        strategy=strategy,
        handle=handle,
        bundle=bundle,
        prepared=prepared,
        framework=doc["framework"],
        input=input_from(doc),
        optimizer=optimizer_from(doc),
        monitor=monitor,
        outcome=outcome_from(doc),
        baseline=baseline,
        after_change=metrics_from(doc["after_change"]),
        data=doc["data"],
        health=health_from(doc),
        notes=tuple(doc["notes"]),
        out_dir=out_dir,
        started=started,
        auto=doc.get("auto"),
        duration_before=float(doc.get("duration_s") or 0.0),
        batch_size=BatchSize(
            request.batch_size or DEFAULT_BATCH_SIZE,
            doc.get("batch_size_source") or OPTION,
            "as in the interrupted run",
        ),
        train_eval=doc.get("baseline_train_eval"),
        judge=judge,
    )
    return train_and_report(
        setup, observer, resumed=run.trainer, best_snapshot=best_snapshot, pause_after=pause_after
    )
