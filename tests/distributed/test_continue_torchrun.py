"""`--continue` under torchrun: a 2-process run killed mid-way goes on from its last recovery
point and ends where the uninterrupted 2-process run ends; a continued run's batches are the
uninterrupted run's (the shuffle stream moved on by the epochs done, on every rank alike)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from plateau_cli.adapters.torch import batches, ddp  # noqa: E402
from plateau_cli.run.distributed import Launch  # noqa: E402
from tests.distributed.test_torchrun import (  # noqa: E402
    ARGS,
    DATA,
    FACTORY,
    OUTPUTS,
    environment,
    flat,
    rank_files,
    torchrun,
)

pytestmark = pytest.mark.torch


def _arrays(seed: int = 3) -> batches.ArrayBatches:
    x = torch.arange(40, dtype=torch.float32).reshape(40, 1)
    return batches.ArrayBatches(x, torch.arange(40), 8, torch.device("cpu"), _gen(seed))


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _epochs(source: object, n: int) -> list[list[int]]:
    return [[int(v) for _, yb in source for v in yb] for _ in range(n)]  # type: ignore[attr-defined]


def test_skipping_epochs_gives_the_uninterrupted_order():
    whole = _epochs(_arrays(), 5)
    later = _arrays()
    assert ddp.skip_epochs(later, 2)
    assert _epochs(later, 3) == whole[2:]
    context = ddp.DdpContext(Launch(1, 2, 1, "127.0.0.1:0"), torch.device("cpu"), "gloo")
    sharded, skipped = (
        ddp.ShardedBatches(_arrays(), context),
        ddp.ShardedBatches(_arrays(), context),
    )
    assert ddp.skip_epochs(skipped, 2)
    assert _epochs(skipped, 3) == _epochs(sharded, 5)[2:]


def test_a_users_loader_in_one_process_is_not_ours_to_replay():
    loader = batches.LoaderBatches([(torch.zeros(2, 1), torch.zeros(2))], torch.device("cpu"), "x")
    assert not ddp.skip_epochs(loader, 2)


def _descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc (torchrun's ranks and their helpers)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _wait_for_epochs(out: Path, job: subprocess.Popen, epochs: int) -> int:
    """Epochs in the recovery point once it holds at least `epochs` (0 if the job ended)."""
    report = out / ".continue" / "recovery" / "report.json"
    deadline = time.monotonic() + 300
    while job.poll() is None and time.monotonic() < deadline:
        try:
            done = len(json.loads(report.read_text())["history"])
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= epochs:
            return done
        time.sleep(0.02)
    return 0


@pytest.mark.slow
def test_a_killed_two_process_run_continued_equals_the_uninterrupted_one(tmp_path: Path):
    full, cut, logs = tmp_path / "full", tmp_path / "cut", tmp_path / "logs"
    work = tmp_path / "cwd"
    work.mkdir()
    args = [*ARGS, "--data", str(DATA), "--epochs", "8", "--patience", "8", "--json"]
    whole = subprocess.run(
        torchrun(logs / "full", *args, "--out", str(full)), cwd=work, env=environment(),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert whole.returncode == 0, whole.stderr[-3000:]

    # The same job, killed outright (SIGKILL to torchrun and both ranks) after epoch 2 or later.
    job = subprocess.Popen(
        torchrun(logs / "cut", *args, "--out", str(cut)), cwd=work, env=environment(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    done = _wait_for_epochs(cut, job, 2)
    for pid in [*_descendants(job.pid), job.pid]:  # torchrun starts each rank in a session
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    job.wait(timeout=60)
    assert 2 <= done < 8, "the run was not cut mid-way"

    factory = ["--model-factory", f"{FACTORY}:mlp_with_cues", "--factory-arg", "hidden=32"]
    factory += ["--factory-arg", "activation=leaky_relu"]  # code is named again, never read
    again = subprocess.run(
        torchrun(logs / "again", "resume", "--continue", str(cut), *factory, "--json"),
        cwd=work, env=environment(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]

    a = json.loads((full / "report.json").read_text())
    b = json.loads((cut / "report.json").read_text())
    assert b["stopped_reason"] == a["stopped_reason"] == "completed"
    assert any(e.startswith("continued after epoch") for e in b["events"])
    assert [r["epoch"] for r in b["history"]] == [r["epoch"] for r in a["history"]]
    for row_a, row_b in zip(a["history"], b["history"], strict=True):
        assert row_b == pytest.approx(row_a, rel=1e-5, abs=1e-7)
    assert b["best"]["epoch"] == a["best"]["epoch"]
    assert b["best"]["metrics"] == pytest.approx(a["best"]["metrics"], rel=1e-5, abs=1e-7)
    for key in ("final", "output_metrics"):
        assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-7), key
    wa = flat(torch.load(full / "checkpoint.pt", weights_only=True))
    wb = flat(torch.load(cut / "checkpoint.pt", weights_only=True))
    assert sorted(wa) == sorted(wb)
    for key in wa:
        torch.testing.assert_close(wb[key], wa[key], rtol=1e-5, atol=1e-6, msg=key)

    # Only rank 0 wrote: the one-process set of files, nothing in the working directory, and
    # rank 1 of the continuing job said nothing.
    assert sorted(p.name for p in cut.iterdir()) == OUTPUTS
    assert list(work.iterdir()) == []
    for name in ("stdout.log", "stderr.log"):
        (rank1,) = rank_files(logs / "again", 1, name)
        assert rank1.read_text() == "", name
