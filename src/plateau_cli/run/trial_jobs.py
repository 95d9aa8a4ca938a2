"""`trial --jobs N`: the candidates of each rung in N worker processes.

Every candidate is already an independent `resume` run in its own directory, seeded by itself
(`adapter.seed(seed)` when it loads), so a rung's candidates can run side by side and give the
numbers they give one after another: the halving between rungs stays in this process, on the
same reports, in the same order. A worker runs one candidate at a time and is kept for the
whole trial. Workers are forked from multiprocessing's fork server, which imported torch and
plateau-cli's training code once before any thread or CUDA context existed (so a worker costs
no import of its own: measured, an import costs ~3 s of CPU, as much as a tiny candidate's
whole rung); TensorFlow is not preloaded (it starts threads on import), so Keras workers
import it themselves. Where there is no fork server (Windows), workers are spawned.

Threads: each worker gets `cores // N` threads (at least 1; at most OMP_NUM_THREADS where it
is set) for torch's intra-op pool and TensorFlow's intra- and inter-op pools, set in its
environment before either framework loads, so N workers do not each start one thread per core
and fight over the same cores. The numbers equal a one-process trial's to the bit when both use
the same number of threads; with another thread count a matrix product sums in another order,
and they agree to float rounding (about 1e-7 relative).

Devices: with `--device cuda` (or `auto` on a machine with CUDA) and several GPUs, worker i
trains on `cuda:(i mod GPUs)`, so N workers on N GPUs each hold one device.

Ctrl-C: the workers sit in a process group of their own, so a terminal's Ctrl-C reaches the
trial process only, and it passes the stop on to every worker exactly once (a second signal
could cut a worker's save or clean-up in half). A worker inside a candidate takes it as the
candidate's own Ctrl-C: a training loop finishes its batch and saves an interrupted,
continuable run; a candidate still loading stops with nothing written. Idle workers ignore
signals and start nothing more. `kill -INT` of the trial process does the same; the trial
waits for the workers' saves and ends interrupted (exit 130).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plateau_cli.errors import PlateauError, UsageError
from plateau_cli.observer import Level, Observer
from plateau_cli.run.interrupt import InterruptGuard

if TYPE_CHECKING:
    from plateau_cli.run.resume import ResumeRequest
    from plateau_cli.run.trial import Candidate

#: The environment a worker sets before any framework loads (see the module docstring).
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


class WorkerError(PlateauError):
    """A worker process died (killed, out of memory): the trial cannot vouch for its rung."""


def available_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the host's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def threads_per_worker(
    jobs: int, cores: int | None = None, environ: Mapping[str, str] | None = None
) -> int:
    """Cores shared evenly between the workers, at least one thread each, and no more than
    OMP_NUM_THREADS where the user set it (their cap for every process)."""
    share = max(1, (cores or available_cores()) // max(1, jobs))
    cap = (os.environ if environ is None else environ).get("OMP_NUM_THREADS", "")
    return min(share, int(cap)) if cap.isdigit() and int(cap) > 0 else share


def check_jobs(jobs: int) -> None:
    if jobs < 1:
        raise UsageError(f"--jobs must be >= 1. Received: {jobs}")


# -- in the worker ----------------------------------------------------------------------------
@dataclass
class _Worker:
    slot: int
    threads: int
    stop: Any  # multiprocessing Event: the trial was interrupted


#: This worker's place, set once by `_init_worker` (one entry, under "self").
_WORKER: dict[str, _Worker] = {}


def _ignore_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def _raise_interrupt(signum: int, frame: object) -> None:
    _ignore_signals()  # once: a further signal must not cut the clean-up in half
    raise KeyboardInterrupt


def _init_worker(slots: Any, pids: Any, stop: Any, threads: int) -> None:
    """Runs first in every worker: before TensorFlow loads; torch may be loaded (preloaded by
    the fork server), so its pool is sized directly as well."""
    _ignore_signals()
    if hasattr(os, "setpgrp"):
        os.setpgrp()  # the terminal's Ctrl-C goes to the trial process, which passes it on once
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    slot = int(slots.get())
    pids[slot] = os.getpid()
    _WORKER["self"] = _Worker(slot, threads, stop)


def worker_device(requested: str, slot: int, framework: str) -> str:
    """The device worker `slot` trains on: its own GPU where there are several."""
    name = (requested or "auto").strip().lower()
    if framework != "torch" or name not in ("auto", "cuda"):
        return requested  # cpu, mps, or one GPU named by the user (cuda:N): as given
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return f"cuda:{slot % count}" if count > 1 else requested


@dataclass(frozen=True)
class _Done:
    """What a worker sends back: the candidate as the rung left it, and what it said."""

    candidate: Candidate
    interrupted: bool
    messages: tuple[tuple[Level, str], ...]


class _Collect(Observer):
    """The worker's observer: sentences kept for the trial process to say, in candidate order."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.messages: list[tuple[Level, str]] = []

    def on_message(self, level: Level, text: str) -> None:
        prefix = f"{self.name}: "
        self.messages.append((level, text if text.startswith(prefix) else prefix + text))


def _run_candidate(
    candidate: Candidate, base: ResumeRequest, budget: int, epochs: int, framework: str
) -> _Done:
    """One candidate for one rung, in a worker (`trial.advance`, as in one process)."""
    from plateau_cli.run.trial import advance

    worker = _WORKER["self"]  # set by _init_worker
    observer = _Collect(candidate.name)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _raise_interrupt)
    try:
        if worker.stop.is_set():  # interrupted before this candidate started
            raise KeyboardInterrupt
        device = worker_device(base.load.device, worker.slot, framework)
        if device != base.load.device:
            base = dataclasses.replace(base, load=dataclasses.replace(base.load, device=device))
        if "torch" in sys.modules:  # loaded after _init_worker, for an earlier candidate
            sys.modules["torch"].set_num_threads(worker.threads)
        interrupted = advance(candidate, base, budget, epochs, observer)
    except KeyboardInterrupt:
        # Stopped before its training loop took the signal: nothing of this rung was written
        # (an earlier rung's paused run stays as it was, continuable).
        candidate.status = "interrupted"
        interrupted = True
    finally:
        _ignore_signals()
    return _Done(candidate, interrupted, tuple(observer.messages))


# -- in the trial process ---------------------------------------------------------------------
def _preload(framework: str) -> tuple[str, ...]:
    """What the fork server imports once for every worker (no TensorFlow: see the docstring)."""
    ours = ("numpy", "plateau_cli.run.trial", "plateau_cli.run.resume_continue")
    if framework == "torch":
        return ("torch", "plateau_cli.adapters.torch.adapter", *ours)
    return ours


class Workers:
    """The trial's worker pool, one rung at a time."""

    def __init__(self, jobs: int, framework: str) -> None:
        import multiprocessing

        if "forkserver" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(list(_preload(framework)))
        else:
            context = multiprocessing.get_context("spawn")
        self.jobs = jobs
        self.framework = framework
        slots = context.Queue()
        for slot in range(jobs):
            slots.put(slot)
        self._slots = slots
        self._pids = context.Array("i", [0] * jobs)
        self._stop = context.Event()
        self._pool = ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=context,
            initializer=_init_worker,
            initargs=(slots, self._pids, self._stop, threads_per_worker(jobs)),
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._slots.close()

    def _pass_on(self) -> None:
        """The trial process was asked to stop: so is every worker (in their own process group,
        nothing else did), once: a second Ctrl-C is not passed on."""
        if self._stop.is_set():
            return
        self._stop.set()
        for pid in list(self._pids):
            if pid:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGINT)

    def advance(
        self,
        candidates: Sequence[Candidate],
        base: ResumeRequest,
        budget: int,
        epochs: int,
        observer: Observer,
    ) -> bool:
        """Run the rung's candidates side by side; True if the trial was interrupted."""
        with InterruptGuard() as guard:
            guard.add_listener(self._pass_on)
            futures: list[Future[_Done]] = [
                self._pool.submit(_run_candidate, c, base, budget, epochs, self.framework)
                for c in candidates
            ]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            if any(f.exception() is not None for f in done if not f.cancelled()):
                for future in futures:
                    future.cancel()  # the rung fails: start nothing more
                wait(futures)
            interrupted = guard.requested
        return self._collect(candidates, futures, observer) or interrupted

    def _collect(
        self, candidates: Sequence[Candidate], futures: list[Future[_Done]], observer: Observer
    ) -> bool:
        """Copy each worker's candidate back, say its messages in candidate order, and raise
        the first failure (the control's bad input) as one process would."""
        interrupted = False
        failure: BaseException | None = None
        for candidate, future in zip(candidates, futures, strict=True):
            if future.cancelled():
                continue
            error = future.exception()
            if error is not None:
                failure = failure or error
                continue
            result = future.result()
            for level, text in result.messages:
                observer.on_message(level, text)
            candidate.report = result.candidate.report
            candidate.status = result.candidate.status
            candidate.reason = result.candidate.reason
            interrupted = interrupted or result.interrupted
        if isinstance(failure, BrokenProcessPool):
            raise WorkerError(
                "a trial worker process died (killed, or out of memory); run again with fewer"
                " --jobs"
            ) from failure
        if failure is not None:
            raise failure
        return interrupted


@contextlib.contextmanager
def workers(jobs: int, framework: str) -> Iterator[Workers]:
    pool = Workers(jobs, framework)
    try:
        yield pool
    finally:
        pool.close()
