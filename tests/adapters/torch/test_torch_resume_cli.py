"""Issue 4's must-show, through the CLI: per format, a model trained into a plateau is resumed
with lr-decay; the input is untouched, the output loads with plain torch in the same layout,
the report's numbers are those of the written weights, the optimizer continues, the rate decayed.
Bad input ends with exit 2 and one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from tests.adapters.torch.torch_fixtures import (  # noqa: E402
    N_TRAIN,
    N_VAL,
    evaluate_plain,
    factory,
    lightning_checkpoint,
    load_script,
    nets,
    save_script,
    train_plain,
)
from tests.e2e.runner import run_cli  # noqa: E402

pytestmark = pytest.mark.torch

EPOCHS = 2
STEPS = EPOCHS * -(-N_TRAIN // 32)


@pytest.fixture(scope="module")
def plateaued(tmp_path_factory, digits):
    """An MLP trained at a high rate for a few epochs (its loss has stopped falling), and npz."""
    x, y = digits
    torch.manual_seed(0)
    model = nets.mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    train_plain(model, optimizer, x[:N_TRAIN], y[:N_TRAIN], epochs=4)
    data = tmp_path_factory.mktemp("data") / "digits.npz"
    end = N_TRAIN + N_VAL
    np.savez(
        data, x_train=x[:N_TRAIN], y_train=y[:N_TRAIN], x_val=x[N_TRAIN:end], y_val=y[N_TRAIN:end]
    )
    return model, optimizer, data


LAYOUTS = {
    "torch-checkpoint-dict": "ckpt.pt",
    "lightning-ckpt": "last.ckpt",
    "torch-state-dict": "weights.pth",
    "safetensors": "model.safetensors",
    "torchscript": "scripted.pt",
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_resume_with_lr_decay_in_every_format(tmp_path, plateaued, layout):
    model, optimizer, data = plateaued
    path = tmp_path / LAYOUTS[layout]
    saved_step = int(optimizer.state_dict()["state"][0]["step"])
    if layout == "torch-checkpoint-dict":
        torch.save(
            {
                "epoch": 4,
                "model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(),
                "loss": 0.3,
            },
            path,
        )
    elif layout == "lightning-ckpt":
        torch.save(lightning_checkpoint(model, optimizer, epoch=4, global_step=saved_step), path)
    elif layout == "torch-state-dict":
        torch.save(model.state_dict(), path)
    elif layout == "safetensors":
        safetensors_torch.save_file(model.state_dict(), str(path))
    else:
        save_script(model, path)
    before = path.read_bytes()
    out = tmp_path / "out"
    argv = [
        "resume",
        str(path),
        "--strategy",
        "lr-decay",
        "--data",
        str(data),
        "--epochs",
        str(EPOCHS),
        "--out",
        str(out),
        "--json",
        "--device",
        "cpu",
    ]
    if layout != "torchscript":
        argv += ["--model-factory", factory("mlp")]
    else:  # TorchScript is code: loaded only when trusted (the test made the file itself)
        argv += ["--trust-pickle"]

    result = run_cli(argv)

    assert result.code == 0, result.stderr
    assert path.read_bytes() == before
    report = json.loads(result.stdout)
    assert report["input"]["format"] == layout
    written_path = Path(report["output"]["path"])
    assert written_path.suffix == path.suffix
    restored = layout in {"torch-checkpoint-dict", "lightning-ckpt"}
    assert report["optimizer"]["loaded_state"] == ("restored" if restored else "absent")

    # The written weights, read by plain torch as the user's script would.
    if layout == "torchscript":
        written_model = load_script(written_path)
    else:
        if layout == "safetensors":
            written = safetensors_torch.load_file(str(written_path))
            state = written
        else:
            written = torch.load(written_path, weights_only=True)
            state = {
                "torch-checkpoint-dict": lambda: written["model_state_dict"],
                "lightning-ckpt": lambda: {
                    k.removeprefix("model."): v for k, v in written["state_dict"].items()
                },
                "torch-state-dict": lambda: written,
            }[layout]()
        written_model = nets.mlp()
        written_model.load_state_dict(state)
    x, y = np.load(data)["x_val"], np.load(data)["y_val"]
    val_loss, val_accuracy = evaluate_plain(written_model, x, y)
    assert report["output_metrics"]["val_loss"] == pytest.approx(val_loss, rel=1e-5)
    assert report["output_metrics"]["val_accuracy"] == pytest.approx(val_accuracy)

    if restored:
        original = torch.load(path, weights_only=True)
        assert list(written) == list(original)
        assert written["epoch"] == 4 + EPOCHS
        opt_state = (
            written["optimizer_state_dict"]
            if layout == "torch-checkpoint-dict"
            else written["optimizer_states"][0]
        )
        assert int(opt_state["state"][0]["step"]) == saved_step + STEPS
        assert opt_state["param_groups"][0]["lr"] == pytest.approx(0.005)  # 0.05 x 0.1
        assert report["changes"] == [
            "learning rate 0.05 -> 0.005 (overrides the restored optimizer's rate)"
        ]
    if layout == "lightning-ckpt":
        assert written["global_step"] == saved_step + STEPS


def _one_line_exit_2(result) -> str:
    assert result.code == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return errors[0]


class WritesAFile:
    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (exec, (f"open({str(self.target)!r}, 'w').write('pwned')",))


def test_bad_torch_input_is_exit_2_with_one_line(tmp_path, plateaued):
    model, _, data = plateaued
    base = ["resume", "--strategy", "lr-decay", "--data", str(data), "--epochs", "1"]

    pickled = tmp_path / "module.pt"
    torch.save(model, pickled)
    line = _one_line_exit_2(
        run_cli([base[0], str(pickled), *base[1:], "--out", str(tmp_path / "o1")])
    )
    assert "torch.nn.modules.container.Sequential" in line
    assert "--trust-pickle" in line
    assert not (tmp_path / "o1").exists()

    marker = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.pt"
    torch.save({"model_state_dict": model.state_dict(), "x": WritesAFile(marker)}, evil)
    line = _one_line_exit_2(
        run_cli(
            [
                base[0],
                str(evil),
                *base[1:],
                "--model-factory",
                factory("mlp"),
                "--out",
                str(tmp_path / "o2"),
            ]
        )
    )
    assert "builtins.exec" in line
    assert not marker.exists()

    weights = tmp_path / "weights.pt"
    torch.save(model.state_dict(), weights)
    line = _one_line_exit_2(
        run_cli(
            [
                base[0],
                str(weights),
                *base[1:],
                "--model-factory",
                factory("mlp"),
                "--factory-arg",
                "hidden=16",
                "--out",
                str(tmp_path / "o3"),
            ]
        )
    )
    assert "0.weight: checkpoint (4, 64) vs model (16, 64)" in line

    line = _one_line_exit_2(
        run_cli(
            [
                base[0],
                str(weights),
                *base[1:],
                "--model-factory",
                str(tmp_path / "nowhere.py") + ":build",
                "--out",
                str(tmp_path / "o4"),
            ]
        )
    )
    assert "nowhere.py" in line
