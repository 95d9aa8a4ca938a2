"""`trial`: from one checkpoint, race the strategies against continuing unchanged, cheaply.

Successive halving (Jamieson and Talwalkar 2016; Li et al.'s Hyperband uses it per bracket):
every candidate trains for a short first rung; the better half goes on to a rung twice as long,
and so on, until the survivors have trained for the whole budget. The control (continue
unchanged) always goes on, so the winner is chosen against it at equal epochs and can never be
worse than it: when the control wins, the report says so plainly.

Each candidate is an ordinary, independent `resume` run in its own directory (candidates/NAME/),
paused at the end of a rung and continued with `resume --continue` machinery. Nothing is shared
between them but the input checkpoint and the seed, so the candidates of a rung run one after
another, or with `--jobs N` side by side in N worker processes (run/trial_jobs.py) with the
same numbers: the halving between rungs is the same code on the same reports either way.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from plateau_cli.adapters.sniff import TORCHSCRIPT, sniff_checkpoint
from plateau_cli.errors import (
    BadInputError,
    PlateauError,
    StrategyNotApplicableError,
    UnsafeCheckpointError,
    UsageError,
)
from plateau_cli.observer import Level, NullObserver, Observer
from plateau_cli.out_claim import check_claim, input_paths, move_aside
from plateau_cli.out_lock import out_lock
from plateau_cli.outputs import default_out_dir, sha256_of
from plateau_cli.report.model import FileRef, ResumeReport
from plateau_cli.run.continue_checks import GivenAgain
from plateau_cli.run.distributed import refuse_several_processes
from plateau_cli.run.resume import ResumeRequest, run_resume
from plateau_cli.run.resume_continue import continue_resume
from plateau_cli.run.trainer import StopReason
from plateau_cli.strategies import build_strategy
from plateau_cli.strategies.control import CONTROL

DEFAULT_STRATEGIES = (
    "lr-decay",
    "augment",
    "widen",
    "unfreeze",
    "lr-find",
    "rebalance",
    "normalize",
    "revive",
    "regularize",
)
CANDIDATES_DIR = "candidates"


def rung_epochs(candidates: int, budget: int) -> list[int]:
    """Cumulative epochs at the end of each rung, doubling, the last one the full budget.

    With n candidates, halving needs ceil(log2 n) cuts; rungs shorter than one epoch are merged.
    """
    rungs = max(1, math.ceil(math.log2(max(candidates, 1))) + 1)
    epochs = [max(1, round(budget / 2 ** (rungs - 1 - k))) for k in range(rungs)]
    return sorted(set(epochs))


@dataclass
class Candidate:
    name: str
    out_dir: Path
    report: ResumeReport | None = None
    #: "running", "finished", "eliminated after N epochs", or why it does not apply.
    status: str = "running"
    #: Why a candidate did not run (the strategy's own refusal), for the report.
    reason: str | None = None
    #: The metric candidates are ranked on (the control's monitor); None: its own.
    ranked_on: str | None = None

    @property
    def best(self) -> float | None:
        """The best value of the control's metric: a strategy judged on a metric of its own
        (rebalance's balanced accuracy) is still ranked on the one every candidate has."""
        if self.report is None:
            return None
        if self.ranked_on and self.ranked_on != self.report.monitor.metric:
            return self.report.best.get(self.ranked_on)
        return self.report.monitored_best

    @property
    def epochs(self) -> int:
        return len(self.report.history) if self.report else 0


@dataclass(frozen=True)
class TrialResult:
    candidates: tuple[Candidate, ...]
    rungs: tuple[tuple[int, tuple[str, ...], tuple[str, ...]], ...]  # epochs, ran, kept
    winner: Candidate
    control: Candidate
    budget: int
    out_dir: Path
    checkpoint: FileRef
    input: FileRef
    interrupted: bool
    duration_s: float
    seed: int
    command_line: tuple[str, ...]

    @property
    def control_won(self) -> bool:
        return self.winner.name == CONTROL

    @property
    def epochs_spent(self) -> int:
        return sum(c.epochs for c in self.candidates)

    @property
    def epochs_full(self) -> int:
        return self.budget * sum(1 for c in self.candidates if c.report is not None)


def check_strategies(names: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(n.strip() for n in names if n.strip()))
    if not chosen:
        raise UsageError("--strategies needs at least one strategy")
    for name in chosen:
        if name in ("auto", CONTROL):
            raise UsageError(
                f"--strategies {name!r}: trial runs the control itself; list strategies from:"
                f" {', '.join(DEFAULT_STRATEGIES)}"
            )
        build_strategy(name, {})  # unknown names fail here, before any framework loads
    return chosen


def _refuse_code_early(base: ResumeRequest) -> str:
    """A file that is not a checkpoint, or a TorchScript archive not trusted, fails before the
    first rung (and its progress line), not inside every candidate. Returns the framework."""
    sniffed = sniff_checkpoint(base.model)
    if sniffed.format == TORCHSCRIPT and not base.load.trust_pickle:
        from plateau_cli.adapters.torch.torchscript_static import torchscript_refusal

        raise UnsafeCheckpointError(torchscript_refusal(base.model))
    return sniffed.framework


def run_trial(
    base: ResumeRequest,
    strategies: Sequence[str],
    budget: int,
    observer: Observer | None = None,
    jobs: int = 1,
) -> TrialResult:
    """Race `strategies` and the control on `base`'s checkpoint and data for `budget` epochs,
    each rung's candidates in `jobs` worker processes (1: one after another, in this one)."""
    from plateau_cli.run.trial_jobs import check_jobs

    started = time.monotonic()
    observer = observer or NullObserver()
    if budget < 1:
        raise UsageError(f"--budget-epochs must be >= 1. Received: {budget}")
    check_jobs(jobs)
    names = (CONTROL, *check_strategies(strategies))
    refuse_several_processes("trial")  # run/distributed.py: resume only, for now
    framework = _refuse_code_early(base)
    out_dir = base.out or default_out_dir(base.model, "trial")
    inputs = input_paths(base.model, base.data, base.load.model_factory)
    check_claim(out_dir, inputs, overwrite=base.overwrite)
    with out_lock(out_dir), _rung_runner(min(jobs, len(names)), framework) as runner:
        return _race(base, names, budget, observer, out_dir, inputs, started, runner)


#: Runs one rung: (candidates, base, budget, epochs, observer, label) -> interrupted.
RungRunner = Callable[[list[Candidate], ResumeRequest, int, int, Observer, str], bool]


@contextmanager
def _rung_runner(jobs: int, framework: str) -> Iterator[RungRunner]:
    """One after another in this process, or side by side in `jobs` workers."""
    if jobs <= 1:
        yield _one_by_one
        return
    from plateau_cli.run.trial_jobs import workers

    with workers(jobs, framework) as pool:

        def side_by_side(
            alive: list[Candidate],
            base: ResumeRequest,
            budget: int,
            epochs: int,
            observer: Observer,
            label: str,
        ) -> bool:
            names = ", ".join(c.name for c in alive)
            observer.on_message(Level.INFO, f"{label}: {names} to epoch {epochs}, {jobs} at a time")
            interrupted = pool.advance(alive, base, budget, epochs, observer)
            if interrupted:
                observer.on_message(
                    Level.WARNING,
                    f"interrupted: the {jobs} workers stopped; each candidate that trained"
                    " saved its run as interrupted, and the trial's report says so",
                )
            return interrupted

        yield side_by_side


def _one_by_one(
    alive: list[Candidate],
    base: ResumeRequest,
    budget: int,
    epochs: int,
    observer: Observer,
    label: str,
) -> bool:
    for candidate in alive:
        observer.on_message(Level.INFO, f"{label}: {candidate.name} to epoch {epochs}")
        if advance(candidate, base, budget, epochs, observer):
            return True
    return False


def _race(
    base: ResumeRequest,
    names: tuple[str, ...],
    budget: int,
    observer: Observer,
    out_dir: Path,
    inputs: tuple[Path, ...],
    started: float,
    runner: RungRunner = _one_by_one,
) -> TrialResult:
    """The trial proper, with `out_dir` locked."""
    input_ref = FileRef(base.model, sha256_of(base.model))
    moved = move_aside(out_dir, inputs) if base.overwrite else None
    if moved is not None:
        observer.on_message(Level.INFO, f"--overwrite: the earlier run was moved to {moved}")
    pool = [Candidate(n, out_dir / CANDIDATES_DIR / n) for n in names]
    rungs: list[tuple[int, tuple[str, ...], tuple[str, ...]]] = []
    alive = list(pool)
    schedule = rung_epochs(len(pool) - 1, budget)  # halving cuts the strategies, not the control
    interrupted = False
    for k, epochs in enumerate(schedule):
        if pool[0].report is not None:
            for c in pool:
                c.ranked_on = pool[0].report.monitor.metric
        label = f"rung {k + 1}/{len(schedule)}"
        interrupted = runner(alive, base, budget, epochs, observer, label)
        alive = [c for c in alive if c.report is not None]
        if interrupted:
            break
        ran = tuple(c.name for c in alive)
        if epochs < budget:
            alive = _halve(alive)
            for c in pool:
                if c.report is not None and c not in alive and c.status == "running":
                    c.status = f"eliminated after {epochs} epochs"
        rungs.append((epochs, ran, tuple(c.name for c in alive)))
    for c in alive:
        if c.status == "running":
            c.status = "finished" if not interrupted else "interrupted"
    control = pool[0]
    if control.report is not None:
        for c in pool:
            c.ranked_on = control.report.monitor.metric
    if control.report is None and interrupted:
        raise KeyboardInterrupt  # stopped before the control trained: exit 130, as at start-up
    if control.report is None:
        raise PlateauError(f"the control run failed: {control.status}")
    finished = [c for c in alive if c.report is not None and c.best is not None]
    winner = min(finished, key=_rank) if finished else control
    checkpoint = _publish(winner, out_dir)
    return TrialResult(
        candidates=tuple(pool),
        rungs=tuple(rungs),
        winner=winner,
        control=control,
        budget=budget,
        out_dir=out_dir,
        checkpoint=checkpoint,
        input=input_ref,
        interrupted=interrupted,
        duration_s=time.monotonic() - started,
        seed=base.seed,
        command_line=base.command_line,
    )


def advance(
    c: Candidate, base: ResumeRequest, budget: int, epochs: int, observer: Observer
) -> bool:
    """Train `c` up to `epochs` (paused there unless it is the budget); True if interrupted."""
    pause = epochs if epochs < budget else None
    try:
        if c.report is None:
            request = dataclasses.replace(
                base, strategy=c.name, strategy_options={}, epochs=budget, patience=None,
                out=c.out_dir, judge_balanced=True,
            )  # fmt: skip
            c.report = run_resume(request, observer, pause_after=pause)
        else:
            # The user named the factory, the data and the imports on this very command line:
            # the candidate goes on with them (a report alone never grants code).
            given = GivenAgain(
                model_factory=base.load.model_factory,
                factory_args=base.load.factory_args,
                data=base.data,
            )
            c.report = continue_resume(
                c.out_dir, observer, trust_pickle=base.load.trust_pickle,
                device=base.load.device, pause_after=pause, given=given,
                imports=base.load.imports,
            )  # fmt: skip
    except StrategyNotApplicableError as exc:
        c.status, c.reason = "does not apply", exc.message
        shutil.rmtree(c.out_dir, ignore_errors=True)
        observer.on_message(Level.WARNING, f"{c.name}: {exc.message}")
        return False
    except BadInputError as exc:
        # One candidate's failure (a widened CNN its factory cannot rebuild when continued)
        # drops that candidate with its reason; the race goes on. The control's failure, or a
        # failure before anything ran, is the user's to fix.
        if c.name == CONTROL:
            raise
        c.status, c.reason = "failed", exc.message
        c.report = None
        observer.on_message(Level.WARNING, f"{c.name} dropped: {exc.message}")
        return False
    return c.report.stopped_reason is StopReason.INTERRUPTED


def _rank(c: Candidate) -> float:
    """Lower is better, whatever the monitor's mode."""
    assert c.report is not None
    value = c.best if c.best is not None else math.inf
    return value if c.report.monitor.mode.value == "min" else -value


def _halve(alive: list[Candidate]) -> list[Candidate]:
    """The better half of the strategies go on, and the control always does."""
    control = [c for c in alive if c.name == CONTROL]
    others = sorted((c for c in alive if c.name != CONTROL), key=_rank)
    keep = others[: max(1, math.ceil(len(others) / 2))] if others else []
    return control + keep


def _publish(winner: Candidate, out_dir: Path) -> FileRef:
    """The winner's checkpoint (its best weights) at the top of the trial directory."""
    assert winner.report is not None
    assert winner.report.output is not None
    from plateau_cli.atomic import atomic_path

    source = winner.report.output.path
    target = out_dir / source.name
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    return FileRef(target, sha256_of(target), winner.report.output.format)
