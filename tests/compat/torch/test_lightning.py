"""Lightning 2.x checkpoints written by a real `Trainer` + `ModelCheckpoint`, for a module with
`save_hyperparameters()` and one without: resumed through the CLI (lr-decay, auto, widen), then
loaded back with Lightning's own API: `load_from_checkpoint` (without arguments when the
hyper-parameters were saved, widened width included) and `trainer.fit(ckpt_path=out)`, whose
restored global_step and epoch are those the output says."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning")

from tests.compat.torch import lit_models  # noqa: E402
from tests.compat.torch.cli import resume  # noqa: E402

pytestmark = [
    pytest.mark.torch,
    pytest.mark.slow,
    # Lightning's own advice (workers, logging) and its deprecation notices under torch 2.13.
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

LIT = Path(lit_models.__file__)
EPOCHS_BEFORE = 3


def _trainer(root: Path, epochs: int) -> L.Trainer:
    return L.Trainer(
        max_epochs=epochs,
        default_root_dir=str(root),
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        accelerator="cpu",
    )


def _checkpoint(root: Path, name: str) -> Path:
    torch.manual_seed(0)
    module = getattr(lit_models, name)()
    trainer = _trainer(root, EPOCHS_BEFORE)
    train, val = lit_models.loaders()
    trainer.fit(module, train, val)
    return Path(trainer.checkpoint_callback.best_model_path)


@pytest.mark.parametrize("name", ["WithHyperparameters", "WithoutHyperparameters"])
@pytest.mark.parametrize("strategy", ["lr-decay", "auto", "widen"])
def test_lightning_checkpoint_loads_back_with_lightning(tmp_path, name, strategy):
    path = _checkpoint(tmp_path / "run", name)
    original = torch.load(path, weights_only=False)

    report = resume(
        path,
        tmp_path / "out",
        "--model-factory",
        f"{LIT}:{name}",
        "--data",
        f"{LIT}:loaders",
        "--epochs",
        "2",
        strategy=strategy,
    )

    out = Path(report["output"]["path"])
    written = torch.load(out, weights_only=False)
    widened = report["strategy"]["name"] == "widen"
    cls = getattr(lit_models, name)
    if name == "WithHyperparameters" or not widened:
        model = cls.load_from_checkpoint(out)
    else:
        hidden = written["state_dict"]["net.0.weight"].shape[0]
        model = cls.load_from_checkpoint(out, hidden=hidden)
    if widened and name == "WithHyperparameters":
        assert written["hyper_parameters"]["hidden"] > original["hyper_parameters"]["hidden"]
    val_loss, val_accuracy = lit_models.evaluate(model)
    assert report["output_metrics"]["val_loss"] == pytest.approx(val_loss, rel=1e-5)
    assert report["output_metrics"]["val_accuracy"] == pytest.approx(val_accuracy)

    steps = written["global_step"] - original["global_step"]
    kept = written["epoch"] - original["epoch"]
    assert steps > 0
    assert 0 <= kept <= 2
    fit_loop = written["loops"]["fit_loop"]
    optim = fit_loop["epoch_loop.automatic_optimization.optim_progress"]["optimizer"]
    assert optim["step"]["total"]["completed"] == written["global_step"]

    # Lightning resumes from the written file: its counters come back as written.
    trainer = _trainer(tmp_path / "continued", EPOCHS_BEFORE + 4)
    train, val = lit_models.loaders()
    trainer.fit(model, train, val, ckpt_path=str(out))
    assert trainer.global_step > written["global_step"]
