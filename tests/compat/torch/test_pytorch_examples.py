"""pytorch/examples as users have them: mnist's Net (widen must not take its output layer fc2,
which reaches the output through log_softmax), a factory module importing torchvision at the
top (one line with the fix when torchvision does not import), and `--optimizer adadelta
--lr 0.1` on a bare state dict (no "0.1 -> 0.1" change reported)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.e2e.runner import run_cli  # noqa: E402

pytestmark = pytest.mark.torch

EXAMPLES = Path(__file__).with_name("examples")


@pytest.fixture
def mnist_like(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("mnist_net", EXAMPLES / "mnist_net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    torch.save(module.Net().state_dict(), tmp_path / "mnist_cnn.pt")
    rng = np.random.default_rng(0)
    x = rng.random((48, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 48)
    np.savez(tmp_path / "d.npz", x_train=x[:32], y_train=y[:32], x_val=x[32:], y_val=y[32:])
    return tmp_path


def _resume(folder, *extra):
    return run_cli(
        [
            "resume",
            str(folder / "mnist_cnn.pt"),
            "--model-factory",
            f"{EXAMPLES / 'mnist_net.py'}:Net",
            "--data",
            str(folder / "d.npz"),
            "--epochs",
            "1",
            "--device",
            "cpu",
            *extra,
        ]
    )


@pytest.mark.slow
def test_widen_on_mnist_net_leaves_the_output_layer_alone(mnist_like):
    result = _resume(mnist_like, "--strategy", "widen", "--out", str(mnist_like / "o"), "--json")

    assert result.code == 0, result.stderr
    widened = json.loads(result.stdout)["strategy"]["details"]["layer"]
    assert widened != "fc2"


@pytest.mark.slow
def test_a_rate_given_for_a_new_optimizer_is_not_reported_as_a_change(mnist_like):
    result = _resume(
        mnist_like, "--strategy", "lr-decay", "--optimizer", "adadelta", "--lr", "0.1", "--json"
    )

    assert result.code == 0, result.stderr
    changes = " ".join(json.loads(result.stdout)["changes"])
    assert "learning rate 0.1" in changes
    assert "0.1 -> 0.1" not in changes


def test_a_factory_importing_a_broken_torchvision_says_the_fix(tmp_path):
    torch.save(torch.nn.Linear(4, 2).state_dict(), tmp_path / "w.pt")

    result = run_cli(
        [
            "inspect",
            str(tmp_path / "w.pt"),
            "--model-factory",
            f"{EXAMPLES}/broken_vision/net.py:build",
        ]
    )

    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "torchvision::nms" in lines[0]
    assert "install the torchvision build that matches your torch" in lines[0]
