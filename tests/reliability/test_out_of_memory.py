"""The framework running out of memory becomes ResourceError: exit 2, one line that suggests
a smaller --batch-size, nothing written.

torch: the model's training step raises `torch.OutOfMemoryError` (what CUDA raises) through a
`--model-factory` (poison_nets.py:oom_mlp). Keras: the model's `train_step` / `test_step`
raises `tf.errors.ResourceExhaustedError` (what TensorFlow raises) while Keras traces it.
With PLATEAU_TRACEBACK=1 the CLI re-raises the PlateauError, which shows its class.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plateau_cli.cli import main
from plateau_cli.errors import ResourceError
from tests.e2e.runner import CliResult, run_cli

HERE = Path(__file__).resolve().parent


def assert_one_line_suggesting_batch_size(result: CliResult, out: Path, batch: int) -> str:
    assert result.code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    assert "out of memory" in line.lower(), line
    assert f"--batch-size {batch // 2}" in line, line
    assert "Traceback" not in result.stderr
    assert not out.exists()
    return line


@pytest.mark.torch
def test_torch_out_of_memory_suggests_a_smaller_batch(torch_checkpoint, digits, tmp_path,
                                                      monkeypatch):  # fmt: skip
    args = ["resume", str(torch_checkpoint), "--strategy", "lr-decay", "--data", str(digits),
            "--model-factory", f"{HERE / 'poison_nets.py'}:oom_mlp", "--batch-size", "64",
            "--out", str(tmp_path / "out"), "--quiet"]  # fmt: skip
    line = assert_one_line_suggesting_batch_size(run_cli(args), tmp_path / "out", 64)
    assert "Tried to allocate 2.00 GiB" in line
    monkeypatch.setenv("PLATEAU_TRACEBACK", "1")
    with pytest.raises(ResourceError):
        main(args)


@pytest.fixture(scope="module")
def keras_model(tmp_path_factory, digits):
    pytest.importorskip("keras")
    from tests.e2e.keras_plateau import stalled_keras_model

    return stalled_keras_model(tmp_path_factory.mktemp("oom") / "model.keras", digits, epochs=1)


@pytest.mark.keras
@pytest.mark.parametrize("step", ["train_step", "test_step"])
def test_keras_out_of_memory_suggests_a_smaller_batch(step, keras_model, digits, tmp_path,
                                                      monkeypatch):  # fmt: skip
    keras = pytest.importorskip("keras")
    import tensorflow as tf

    def exhausted(self, data):
        raise tf.errors.ResourceExhaustedError(
            None, None, "OOM when allocating tensor with shape[64,4096,4096] and type float"
        )

    monkeypatch.setattr(keras.Sequential, step, exhausted)
    args = ["resume", str(keras_model), "--strategy", "lr-decay", "--data", str(digits),
            "--batch-size", "64", "--epochs", "1", "--out", str(tmp_path / "out"),
            "--quiet"]  # fmt: skip
    line = assert_one_line_suggesting_batch_size(run_cli(args), tmp_path / "out", 64)
    assert "OOM when allocating" in line
    assert ("while training" if step == "train_step" else "while evaluating") in line
    monkeypatch.setenv("PLATEAU_TRACEBACK", "1")
    with pytest.raises(ResourceError):
        main(args)
