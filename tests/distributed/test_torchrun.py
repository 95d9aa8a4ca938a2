"""`torchrun --nproc_per_node=2` on the CPU (Gloo) against one process, through the CLI.

The sample is the `lr` MLP (no batch-norm, mean-reduced cross-entropy) resumed with lr-decay,
so the two runs must agree: both draw the same seeded permutation, each rank takes half of every
global batch of 32, and DDP's averaged, share-scaled gradients are the whole batch's. Only float
summation order differs, hence the tolerance.
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

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_models" / "torch" / "lr" / "checkpoint.pt"
DATA = ROOT / "sample_models" / "data" / "digits.npz"
FACTORY = ROOT / "tests" / "distributed" / "rank_nets.py"
ARGS = [
    "resume", str(SAMPLE), "--strategy", "lr-decay",
    "--model-factory", f"{FACTORY}:mlp_with_cues", "--factory-arg", "hidden=32",
    "--factory-arg", "activation=leaky_relu", "--batch-size", "32", "--device", "cpu",
]  # fmt: skip
OUTPUTS = ["checkpoint.pt", "curves.png", "history.csv", "report.json", "report.md"]

pytestmark = [pytest.mark.slow, pytest.mark.torch]


#: Variables a launcher or a library sets in the test process (Lightning's seed_everything,
#: torch.distributed, transformers, an earlier torchrun-style test): the jobs below get only
#: what torchrun gives them, as on a user's machine, not what earlier tests left behind.
_LEFT_BY_OTHERS = (
    "PL_", "TORCHELASTIC_", "TORCHINDUCTOR_", "PYTORCH_", "MASTER_", "GROUP_", "ROLE_",
    "LOCAL_WORLD", "TF_CONFIG", "HF_", "PLATEAU_", "NCCL_", "GLOO_",
)  # fmt: skip


def environment(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"RANK", "WORLD_SIZE", "LOCAL_RANK"} and not k.startswith(_LEFT_BY_OTHERS)
    }
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    return {**env, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", **extra}


def torchrun(logs: Path, *args: str) -> list[str]:
    return [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "--log-dir", str(logs), "--redirects", "3", "-m", "plateau_cli", *args,
    ]  # fmt: skip


def rank_files(logs: Path, rank: int, name: str) -> list[Path]:
    return sorted(logs.rglob(f"attempt_*/{rank}/{name}"))


def flat(obj: dict, prefix: str = "") -> dict:
    import torch

    out = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            out |= flat(value, f"{prefix}{key}.")
        elif isinstance(value, torch.Tensor):
            out[f"{prefix}{key}"] = value
    return out


@pytest.mark.parametrize(
    "data",
    [str(DATA), f"{FACTORY}:digits_loaders"],  # arrays; a user's DataLoader (rebuilt, sampled)
    ids=["arrays", "dataloader"],
)
def test_two_processes_equal_one_with_the_same_global_batch(tmp_path: Path, data: str) -> None:
    import torch

    one, two, logs = tmp_path / "one", tmp_path / "two", tmp_path / "logs"
    work = tmp_path / "cwd"
    work.mkdir()
    args = [*ARGS, "--data", data, "--epochs", "3", "--json"]
    single = subprocess.run(
        [sys.executable, "-m", "plateau_cli", *args, "--out", str(one)],
        cwd=work, env=environment(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-2000:]
    multi = subprocess.run(
        torchrun(logs, *args, "--out", str(two)),
        cwd=work, env=environment(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert multi.returncode == 0, multi.stderr[-3000:]

    a = json.loads((one / "report.json").read_text())
    b = json.loads((two / "report.json").read_text())
    assert a["best"]["epoch"] == b["best"]["epoch"] >= 1  # it trained and improved
    assert a["stopped_reason"] == b["stopped_reason"] == "completed"
    assert b["best"]["metrics"] == pytest.approx(a["best"]["metrics"], rel=1e-5, abs=1e-7)
    for key in ("baseline", "after_change", "output_metrics", "final"):
        assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-7), key
    assert len(a["history"]) == len(b["history"]) == 3
    for row_a, row_b in zip(a["history"], b["history"], strict=True):
        assert row_b == pytest.approx(row_a, rel=1e-5, abs=1e-7)
    assert any("data-parallel on 2 processes" in note for note in b["notes"])

    # The checkpoint: same layout, no `module.` prefix, the same weights; plain torch reads it.
    wa = torch.load(one / "checkpoint.pt", weights_only=True)
    wb = torch.load(two / "checkpoint.pt", weights_only=True)
    assert sorted(wa) == sorted(wb)
    fa, fb = flat(wa), flat(wb)
    assert sorted(fa) == sorted(fb)
    assert not any(k.split(".")[1] == "module" for k in fb if k.startswith("model_state_dict"))
    for key in fa:
        torch.testing.assert_close(fb[key], fa[key], rtol=1e-5, atol=1e-6, msg=key)
    sys.path.insert(0, str(ROOT))
    try:
        from sample_models.torch.nets import mlp
    finally:
        sys.path.remove(str(ROOT))
    mlp(hidden=32, activation="leaky_relu").load_state_dict(wb["model_state_dict"], strict=True)

    # Only rank 0 wrote and printed: the same files as one process, nothing else anywhere.
    assert sorted(p.name for p in two.iterdir()) == sorted(p.name for p in one.iterdir())
    assert sorted(p.name for p in two.iterdir()) == OUTPUTS
    assert list(work.iterdir()) == []
    rank0_out = rank_files(logs, 0, "stdout.log")
    assert rank0_out
    assert json.loads(rank0_out[0].read_text())["best"] == b["best"]
    for name in ("stdout.log", "stderr.log"):
        (rank1,) = rank_files(logs, 1, name)
        assert rank1.read_text() == "", name


def test_a_rank_that_dies_ends_the_job_with_one_line_and_no_output(tmp_path: Path) -> None:
    out, logs = tmp_path / "out", tmp_path / "logs"
    result = subprocess.run(
        torchrun(logs, *ARGS, "--data", str(DATA), "--epochs", "3", "--out", str(out)),
        cwd=tmp_path, env=environment(PLATEAU_TEST_DIE_RANK="1"), capture_output=True,
        text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    (stderr,) = rank_files(logs, 0, "stderr.log")
    errors = [line for line in stderr.read_text().splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "another process of this torchrun job stopped" in errors[0]
    assert "Traceback" not in stderr.read_text()
    assert not out.exists()


def test_sigterm_from_torchrun_saves_the_best_weights_as_interrupted(tmp_path: Path) -> None:
    import torch

    out, logs, started = tmp_path / "out", tmp_path / "logs", tmp_path / "started"
    job = subprocess.Popen(
        torchrun(logs, *ARGS, "--data", str(DATA), "--epochs", "50", "--out", str(out)),
        cwd=tmp_path, env=environment(PLATEAU_TEST_STARTED=str(started)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not started.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started.exists(), "training never started"
    job.send_signal(signal.SIGTERM)
    job.communicate(timeout=300)
    report = json.loads((out / "report.json").read_text())
    assert report["stopped_reason"] == "interrupted"
    assert "SIGTERM" in report["stopped_detail"]
    assert report["continuation"] is not None
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == OUTPUTS
    torch.load(out / "checkpoint.pt", weights_only=True)
    (stderr,) = rank_files(logs, 0, "stderr.log")
    assert "Traceback" not in stderr.read_text()
