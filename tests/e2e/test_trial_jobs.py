"""`trial --jobs 2` against `--jobs 1`, and Ctrl-C during a parallel trial, as a user runs them.

Both trials run as subprocesses with OMP_NUM_THREADS=1, so every candidate trains with one
thread whether it runs in the trial's process or in a worker: the numbers must then be equal
to the bit (with other thread counts they agree to float rounding; see run/trial_jobs.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plateau_cli.atomic import TEMP_PREFIX

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_models"
SAMPLE = SAMPLES / "torch" / "lr" / "checkpoint.pt"
CUES = ROOT / "tests" / "distributed" / "rank_nets.py"

pytestmark = [pytest.mark.slow, pytest.mark.torch]


def _args(out: Path, factory: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "plateau_cli", "trial", str(SAMPLE),
        "--data", str(SAMPLES / "data" / "digits.npz"), "--model-factory", factory,
        "--factory-arg", "hidden=32", "--factory-arg", "activation=leaky_relu",
        "--device", "cpu", "--seed", "1", "--out", str(out), *extra,
    ]  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", **extra}


def test_two_jobs_give_the_numbers_of_one(tmp_path: Path) -> None:
    docs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}"
        args = _args(out, f"{SAMPLES / 'torch' / 'nets.py'}:mlp", "--jobs", jobs)
        args += ["--strategies", "lr-decay,augment,widen", "--budget-epochs", "2", "--json"]
        done = subprocess.run(
            args, env=_env(), capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, done.stderr[-3000:]
        docs[jobs] = json.loads(done.stdout)
    one, two = docs["1"], docs["2"]
    assert [c["strategy"] for c in one["candidates"]] == [
        "continue",
        "lr-decay",
        "augment",
        "widen",
    ]
    for a, b in zip(one["candidates"], two["candidates"], strict=True):
        assert a["strategy"] == b["strategy"]
        assert a["status"] == b["status"]
        assert a["epochs_run"] == b["epochs_run"]
        assert a["history"] == b["history"], a["strategy"]  # every epoch's metrics, exactly
        assert a["best"] == b["best"]
        assert a["best_epoch"] == b["best_epoch"]
    assert one["rungs"] == two["rungs"]
    assert any(len(r["kept"]) < len(r["ran"]) for r in one["rungs"])  # someone was cut
    assert one["winner"] == {**two["winner"], "checkpoint": one["winner"]["checkpoint"]}
    assert one["epochs_spent"] == two["epochs_spent"]
    for jobs in ("1", "2"):
        names = sorted(p.name for p in (tmp_path / f"jobs{jobs}").iterdir())
        assert names == ["candidates", "checkpoint.pt", "trial.json", "trial.md", "trial.png"]


@pytest.mark.parametrize("whole_group", [True, False], ids=["terminal-ctrl-c", "kill-trial-only"])
def test_ctrl_c_stops_the_workers_with_one_line_and_exit_130(
    tmp_path: Path, whole_group: bool
) -> None:
    out, started = tmp_path / "trial", tmp_path / "started"
    args = _args(out, f"{CUES}:mlp_with_cues", "--jobs", "2", "--strategies", "lr-decay,augment")
    job = subprocess.Popen(
        [*args, "--budget-epochs", "40"], env=_env(PLATEAU_TEST_STARTED=str(started)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    # Interrupted once the control trains too (its recovery point exists): a Ctrl-C while the
    # control still loads ends as at start-up ("interrupted", 130) without a trial report.
    control = out / "candidates" / "continue" / ".continue" / "recovery"
    deadline = time.monotonic() + 300
    while not (started.exists() and control.is_dir()) and job.poll() is None:
        assert time.monotonic() < deadline, "no candidate started training"
        time.sleep(0.05)
    assert started.exists()
    if whole_group:  # what a terminal does: SIGINT to the trial and its workers
        os.killpg(job.pid, signal.SIGINT)
    else:  # `kill -INT` of the trial alone: it passes the signal on
        job.send_signal(signal.SIGINT)
    stdout, stderr = job.communicate(timeout=300)
    assert job.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if "interrupted" in line.lower()] == [
        next(line for line in stderr.splitlines() if "workers stopped" in line)
    ]
    doc = json.loads((out / "trial.json").read_text())
    assert doc["interrupted"] is True
    assert "interrupted" in [c["status"] for c in doc["candidates"]]
    # Nothing half-written: every candidate that saved has its whole set, no temporary file.
    for candidate in (out / "candidates").iterdir():
        files = sorted(str(p.relative_to(candidate)) for p in candidate.rglob("*"))
        assert (candidate / "report.json").is_file(), (candidate.name, files)
        report = json.loads((candidate / "report.json").read_text())
        assert report["stopped_reason"] in ("interrupted", "paused")
        assert (candidate / "checkpoint.pt").is_file()
    assert not [p for p in out.rglob("*") if p.name.startswith(TEMP_PREFIX)]
    assert "interrupted" in stdout or stdout == ""
