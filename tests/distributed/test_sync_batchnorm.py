"""`--sync-batchnorm`: BatchNorm trains as SyncBatchNorm under torchrun on GPUs, the checkpoint
keeps plain BatchNorm, and the CPU (Gloo), where torch cannot synchronise, is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from plateau_cli.adapters.torch import sync_bn  # noqa: E402
from plateau_cli.adapters.torch.handle import TorchHandle  # noqa: E402
from plateau_cli.errors import UsageError  # noqa: E402
from tests.distributed.test_torchrun import (  # noqa: E402
    ROOT,
    environment,
    flat,
    rank_files,
    torchrun,
)

pytestmark = pytest.mark.torch
CNN = [
    "resume", str(ROOT / "sample_models" / "torch" / "unfreeze" / "checkpoint.pt"),
    "--strategy", "lr-decay", "--data", str(ROOT / "sample_models" / "data" /
    "digits_images_nchw.npz"), "--model-factory",
    f"{ROOT / 'sample_models' / 'torch' / 'nets.py'}:small_cnn", "--batch-size", "32",
]  # fmt: skip


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * 6 * 6, 8), nn.BatchNorm1d(8), nn.Linear(8, 3),
    )  # fmt: skip


def test_layers_switch_class_in_place_and_back_with_the_same_keys_and_numbers():
    model, plain = _net(), _net()
    bns = sync_bn.batch_norms(model)
    weights = [bn.weight for bn in bns]
    keys = list(model.state_dict())
    x = torch.randn(16, 1, 8, 8)
    with sync_bn.synchronised(model, True):
        assert [type(m) for m in sync_bn.batch_norms(model)] == [nn.SyncBatchNorm] * 2
        assert sync_bn.batch_norms(model) == bns  # the same layer objects: identity kept
        assert list(model.state_dict()) == keys
        # No process group: SyncBatchNorm falls back to batch_norm, so the numbers are plain.
        model.train(), plain.train()
        torch.testing.assert_close(model(x), plain(x), rtol=0, atol=0)
    assert [type(m) for m in bns] == [nn.BatchNorm2d, nn.BatchNorm1d]
    assert [bn.weight for bn in bns] == weights
    assert not any(hasattr(bn, "process_group") for bn in bns)
    for name, value in plain.state_dict().items():  # running stats updated in place, alike
        torch.testing.assert_close(model.state_dict()[name], value, rtol=0, atol=0, msg=name)


def test_the_plain_class_comes_back_when_training_fails():
    model = _net()
    with pytest.raises(RuntimeError), sync_bn.synchronised(model, True):
        raise RuntimeError("a failed epoch")
    assert [type(m) for m in sync_bn.batch_norms(model)] == [nn.BatchNorm2d, nn.BatchNorm1d]


def _handle(ddp: object, device: str, model: nn.Module | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        model=model or _net(), ddp=ddp, device=torch.device(device), load_notes=[],
        sync_batchnorm=False,
    )  # fmt: skip


def test_the_option_by_place():
    one = _handle(None, "cpu")
    TorchHandle.use_sync_batchnorm(one)  # type: ignore[arg-type]
    assert not one.sync_batchnorm
    assert "one process sees the whole batch" in one.load_notes[0]
    with pytest.raises(UsageError, match=r"needs CUDA GPUs \(NCCL\)"):
        TorchHandle.use_sync_batchnorm(_handle(object(), "cpu"))  # type: ignore[arg-type]
    no_bn = _handle(object(), "cuda", nn.Linear(2, 2))
    TorchHandle.use_sync_batchnorm(no_bn)  # type: ignore[arg-type]
    assert not no_bn.sync_batchnorm
    gpus = _handle(object(), "cuda")
    TorchHandle.use_sync_batchnorm(gpus)  # type: ignore[arg-type]
    assert gpus.sync_batchnorm
    assert "2 BatchNorm layer(s) train as SyncBatchNorm" in gpus.load_notes[0]


_TORCH_ON_CPU = """
import os, tempfile, torch, torch.distributed as dist
dist.init_process_group("gloo", init_method="file://" + tempfile.mktemp(), rank=0, world_size=1)
layer = torch.nn.SyncBatchNorm(3).train()
try:
    layer(torch.randn(4, 3))
except ValueError as exc:
    print("refused:", exc)
else:
    print("ran")
"""


@pytest.mark.slow
def test_torch_itself_refuses_syncbatchnorm_on_the_cpu():
    """Why the option is refused on the CPU; when this fails, torch learned it: lift the refusal."""
    done = subprocess.run(
        [sys.executable, "-c", _TORCH_ON_CPU], capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("refused: SyncBatchNorm expected input tensor to be on GPU")


@pytest.mark.slow
def test_under_torchrun_on_the_cpu_it_is_one_line_and_nothing_written(tmp_path: Path):
    out, logs = tmp_path / "out", tmp_path / "logs"
    done = subprocess.run(
        torchrun(logs, *CNN, "--device", "cpu", "--sync-batchnorm", "--out", str(out)),
        cwd=tmp_path, env=environment(), capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert done.returncode != 0
    (stderr,) = rank_files(logs, 0, "stderr.log")
    lines = stderr.read_text().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: --sync-batchnorm needs CUDA GPUs (NCCL)")
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.cuda
@pytest.mark.skipif(
    not torch.cuda.is_available() or torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs"
)
def test_two_gpus_with_sync_batchnorm_equal_one_with_the_same_global_batch(tmp_path: Path):
    """With SyncBatchNorm each layer normalises with the global batch's statistics, so 2
    processes give the numbers of one (float summation order aside); plain BatchNorm keys."""
    one, two, logs = tmp_path / "one", tmp_path / "two", tmp_path / "logs"
    args = [*CNN, "--device", "cuda", "--epochs", "2", "--json"]
    single = subprocess.run(
        [sys.executable, "-m", "plateau_cli", *args, "--out", str(one)], cwd=tmp_path,
        env=environment(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-2000:]
    multi = subprocess.run(
        torchrun(logs, *args, "--sync-batchnorm", "--out", str(two)), cwd=tmp_path,
        env=environment(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert multi.returncode == 0, multi.stderr[-3000:]
    a = json.loads((one / "report.json").read_text())
    b = json.loads((two / "report.json").read_text())
    for row_a, row_b in zip(a["history"], b["history"], strict=True):
        assert row_b == pytest.approx(row_a, rel=1e-4, abs=1e-6)
    assert any("train as SyncBatchNorm" in note for note in b["notes"])
    wa = flat(torch.load(one / "checkpoint.pt", weights_only=True))
    wb = flat(torch.load(two / "checkpoint.pt", weights_only=True))
    assert sorted(wa) == sorted(wb)
    assert any(k.endswith("running_mean") for k in wb)
    for key in wa:
        torch.testing.assert_close(wb[key].cpu(), wa[key].cpu(), rtol=1e-4, atol=1e-5, msg=key)
