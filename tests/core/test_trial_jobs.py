"""`trial --jobs N`: threads shared between workers, devices, and refusals before any work."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from plateau_cli.errors import UsageError
from plateau_cli.run import trial_jobs
from plateau_cli.run.resume import ResumeRequest
from plateau_cli.run.trial import run_trial
from tests.e2e.runner import run_cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("jobs", "cores", "omp", "threads"),
    [
        (1, 2, None, 2),
        (2, 2, None, 1),
        (3, 2, None, 1),  # never fewer than one thread
        (2, 16, None, 8),
        (2, 16, "2", 2),  # the user's OMP_NUM_THREADS caps every process
        (2, 16, "junk", 8),
    ],
)
def test_threads_per_worker_share_the_cores(jobs, cores, omp, threads):
    environ = {} if omp is None else {"OMP_NUM_THREADS": omp}
    assert trial_jobs.threads_per_worker(jobs, cores, environ) == threads


def test_devices_stay_as_given_off_torch_and_off_cuda():
    assert trial_jobs.worker_device("cpu", 1, "torch") == "cpu"
    assert trial_jobs.worker_device("cuda:1", 0, "torch") == "cuda:1"  # the user named one
    assert trial_jobs.worker_device("auto", 1, "keras") == "auto"


def test_jobs_below_one_is_refused_before_anything_loads(tmp_path):
    base = ResumeRequest(model=tmp_path / "m.pt", strategy="continue", data="d.npz")
    with pytest.raises(UsageError, match=r"--jobs must be >= 1\. Received: 0"):
        run_trial(base, ["lr-decay"], 2, jobs=0)
    result = run_cli(["trial", str(tmp_path / "m.pt"), "--data", "d.npz", "--jobs", "0"])
    assert result.code == 2
    assert "--jobs" in result.stderr
    assert not (tmp_path / "trial").exists()


def _worker_view() -> tuple[dict[str, str], int]:
    import torch

    env = {k: os.environ.get(k, "") for k in trial_jobs._THREAD_VARIABLES}
    return env, torch.get_num_threads()


@pytest.mark.slow
@pytest.mark.torch
def test_a_worker_sets_its_threads_before_torch_loads(monkeypatch):
    import multiprocessing

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    context = multiprocessing.get_context("spawn")
    slots = context.Queue()
    slots.put(0)
    pids, stop = context.Array("i", [0]), context.Event()
    with ProcessPoolExecutor(
        1, context, initializer=trial_jobs._init_worker, initargs=(slots, pids, stop, 1)
    ) as pool:
        env, threads = pool.submit(_worker_view).result(timeout=120)
    assert env == dict.fromkeys(trial_jobs._THREAD_VARIABLES, "1")
    assert threads == 1
    assert pids[0] not in (0, os.getpid())
