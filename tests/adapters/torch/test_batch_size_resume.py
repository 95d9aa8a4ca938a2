"""resume trains at the run's batch size and says in report.json where it came from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from plateau_cli.adapters.base import LoadOptions  # noqa: E402
from plateau_cli.run.resume import ResumeRequest, run_resume  # noqa: E402
from tests.adapters.torch.torch_fixtures import lightning_checkpoint, nets  # noqa: E402

pytestmark = pytest.mark.torch

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "sample_models"
DIGITS = SAMPLES / "data" / "digits.npz"
SAMPLE_FACTORY = {
    "model_factory": f"{SAMPLES / 'torch' / 'nets.py'}:mlp",
    "factory_args": {"hidden": 32, "activation": "leaky_relu"},
}


def _resume(model: Path, out: Path, data: str = str(DIGITS), **kwargs) -> dict:
    load = kwargs.pop("load", {})
    request = ResumeRequest(
        model=model,
        strategy="lr-decay",
        data=data,
        epochs=1,
        patience=None,
        out=out,
        load=LoadOptions(**load),
        **kwargs,
    )
    run_resume(request)
    return json.loads((out / "report.json").read_text())


def test_the_sample_runs_batch_size_is_estimated_from_its_step_count(tmp_path):
    # 25 epochs, Adam at step 1125: 45 steps per epoch over 1437 samples -> 32.
    ckpt = SAMPLES / "torch" / "lr" / "checkpoint.pt"
    report = _resume(ckpt, tmp_path / "o", load=SAMPLE_FACTORY)
    assert report["batch_size"] == 32
    assert report["batch_size_source"] == "step-count"
    markdown = (tmp_path / "o" / "report.md").read_text()
    assert "batch size 32 (estimated from the optimizer's 1125 steps over 25 epochs" in markdown


def test_an_explicit_batch_size_wins(tmp_path):
    report = _resume(
        SAMPLES / "torch" / "lr" / "checkpoint.pt", tmp_path / "o", load=SAMPLE_FACTORY,
        batch_size=100,
    )  # fmt: skip
    assert (report["batch_size"], report["batch_size_source"]) == (100, "option")


def _lightning_file(tmp_path: Path, hyper: dict) -> Path:
    torch.manual_seed(0)
    model = nets.mlp()
    optimizer = torch.optim.Adam(model.parameters())
    ckpt = lightning_checkpoint(model, optimizer, epoch=3, global_step=30)
    ckpt["hyper_parameters"] = hyper
    path = tmp_path / "last.ckpt"
    torch.save(ckpt, path)
    return path


def test_lightning_hyper_parameters_give_the_batch_size(tmp_path, digits):
    path = _lightning_file(tmp_path, {"hidden": 4, "batch_size": 128})
    data = tmp_path / "d.npz"
    x, y = digits
    np.savez(data, x_train=x[:1000], y_train=y[:1000], x_val=x[1000:1200], y_val=y[1000:1200])
    factory = {"model_factory": f"{ROOT / 'tests' / 'fixtures' / 'torch' / 'nets.py'}:mlp"}
    report = _resume(path, tmp_path / "o", data=str(data), load=factory)
    assert (report["batch_size"], report["batch_size_source"]) == (128, "checkpoint")


def test_a_data_loader_keeps_its_batch_size_and_the_report_says_so(tmp_path, digits):
    x, y = digits
    source = tmp_path / "loaders.py"
    np.savez(tmp_path / "arrays.npz", x=x, y=y)
    source.write_text(
        "import numpy as np, torch\n"
        "from torch.utils.data import DataLoader, TensorDataset\n"
        "def data():\n"
        f"    a = np.load({str(tmp_path / 'arrays.npz')!r})\n"
        "    x, y = torch.from_numpy(a['x']), torch.from_numpy(a['y'])\n"
        "    train = DataLoader(TensorDataset(x[:1000], y[:1000]), batch_size=50, shuffle=True)\n"
        "    val = DataLoader(TensorDataset(x[1000:1200], y[1000:1200]), batch_size=50)\n"
        "    return train, val\n"
    )
    report = _resume(
        SAMPLES / "torch" / "lr" / "checkpoint.pt", tmp_path / "o", data=f"{source}:data",
        load=SAMPLE_FACTORY,
    )  # fmt: skip
    assert (report["batch_size"], report["batch_size_source"]) == (50, "data-loader")


@pytest.mark.slow
@pytest.mark.keras
def test_keras_estimates_from_iterations_and_the_csv_log_beside_it(tmp_path):
    pytest.importorskip("keras")
    report = _resume(SAMPLES / "keras" / "lr" / "model.keras", tmp_path / "o")
    assert report["batch_size_source"] == "step-count"
    assert report["batch_size"] == 32
