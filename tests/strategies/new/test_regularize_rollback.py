"""regularize's roll-back to the log's best epoch: the names read as epochs, the past-the-best
test on the log, and a real torch and Keras resume that starts from the named epoch's file (or
says that none is there)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from plateau_cli.history import history_from_rows
from plateau_cli.monitor import Monitor
from plateau_cli.strategies import build_strategy
from plateau_cli.strategies.regularize.rollback import checkpoint_of_epoch, epoch_of, past_best


@pytest.mark.parametrize(
    ("name", "epoch"),
    [
        ("epoch=06.ckpt", 7),  # Lightning counts from 0
        ("epoch=6-step=420.ckpt", 7),
        ("epoch_7.pt", 7),
        ("model_epoch-07.pth", 7),
        ("model-07.keras", 7),
        ("weights.07-0.52.h5", 7),
        ("checkpoint-7", 7),
        ("ckpt_007.pt", 7),
        ("checkpoint.pt", None),
        ("model.keras", None),
        ("model-7b.keras", None),
    ],
)
def test_epoch_from_the_name(tmp_path, name, epoch) -> None:
    assert epoch_of(tmp_path / name) == epoch


def test_a_hugging_face_checkpoint_dir_gives_its_epoch_not_its_step(tmp_path) -> None:
    d = tmp_path / "checkpoint-500"
    d.mkdir()
    (d / "trainer_state.json").write_text(json.dumps({"epoch": 3.0, "global_step": 500}))
    assert epoch_of(d) == 3


def _log(values: list[float]):
    return history_from_rows([{"loss": 0.1, "val_loss": v} for v in values])


def test_past_the_best_only_when_the_log_ends_clearly_worse() -> None:
    monitor = Monitor.for_metric("val_loss")
    past = past_best(_log([0.9, 0.5, 0.45, 0.6, 0.7]), monitor)
    assert past is not None
    assert (past.best_epoch, past.last_epoch, past.epochs_past) == (3, 5, 2)
    assert past.best_value == pytest.approx(0.45)
    assert past_best(_log([0.9, 0.5, 0.45]), monitor) is None  # still improving
    assert past_best(_log([0.9, 0.5, 0.452]), monitor) is None  # within 1% of the best
    accuracy = history_from_rows([{"val_accuracy": v} for v in (0.5, 0.9, 0.7)])
    got = past_best(accuracy, Monitor.for_metric("val_accuracy"))
    assert got is not None
    assert got.best_epoch == 2


def test_the_named_epochs_file_is_picked_not_the_model_nor_another_epoch(tmp_path) -> None:
    for name in ("epoch_2.pt", "epoch_3.pt", "epoch_3.keras", "checkpoint.pt", "epoch_5.pt"):
        (tmp_path / name).write_bytes(b"x")
    model = tmp_path / "checkpoint.pt"
    assert checkpoint_of_epoch(model, 3) == tmp_path / "epoch_3.pt"  # the model's suffix first
    assert checkpoint_of_epoch(tmp_path / "epoch_5.pt", 5) is None  # never the model itself
    assert checkpoint_of_epoch(model, 4) is None


def test_rollback_option_is_validated_before_any_framework() -> None:
    assert build_strategy("regularize", {}).options.rollback is True
    assert build_strategy("regularize", {"rollback": False}).options.rollback is False


# -- real resumes ------------------------------------------------------------------------------


def _data(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5)).astype("float32")
    y = (x[:, 0] - x[:, 1] > 0).astype("int64")
    path = tmp_path / "data.npz"
    np.savez(path, x_train=x[:150], y_train=y[:150], x_val=x[150:], y_val=y[150:])
    return path


def _resume(model: Path, data: Path, log: Path, out: Path, **options) -> dict:
    from plateau_cli.adapters.base import LoadOptions
    from plateau_cli.run.resume import ResumeRequest, run_resume

    request = ResumeRequest(
        model=model, strategy="regularize", data=str(data), strategy_options=options, epochs=1,
        out=out, log=log, load=LoadOptions(trust_pickle=True, device="cpu"),
    )  # fmt: skip
    report = run_resume(request)
    return {
        "changes": report.outcome.changes,
        "after": report.after_change,
        "details": report.outcome,
    }


@pytest.fixture(scope="module")
def torch_run(tmp_path_factory) -> dict:
    """Four epochs' checkpoints (epoch_N.pt) and the last as checkpoint.pt; epoch 2 is best."""
    torch = pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("torch_run")
    data = _data(root)
    a = np.load(data)
    xv, yv = torch.tensor(a["x_val"]), torch.tensor(a["y_val"])
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    x, y = torch.tensor(a["x_train"]), torch.tensor(a["y_train"])
    rows, losses = [], {}
    for epoch in range(1, 5):
        if epoch == 2:  # epoch 1: the initial weights
            for _ in range(30):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x), y).backward()
                opt.step()
        elif epoch > 2:  # later epochs get worse: weights pushed away from the best
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(0.3 * torch.randn_like(p))
        with torch.no_grad():
            val = float(torch.nn.functional.cross_entropy(model(xv), yv))
        losses[epoch] = val
        rows.append({"epoch": epoch, "loss": 0.1, "val_loss": val})
        torch.save(model, root / f"epoch_{epoch}.pt")
    torch.save(model, root / "checkpoint.pt")
    log = root / "train_log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    best = min(losses, key=losses.get)
    return {"root": root, "data": data, "log": log, "losses": losses, "best": best}


@pytest.mark.torch
def test_torch_regularize_rolls_back_to_the_named_epoch(torch_run, tmp_path) -> None:
    root, best = torch_run["root"], torch_run["best"]
    assert best == 2
    assert torch_run["losses"][4] > torch_run["losses"][2] * 1.01
    got = _resume(root / "checkpoint.pt", torch_run["data"], torch_run["log"], tmp_path / "o")
    assert any(f"rolled back to epoch_{best}.pt" in c for c in got["changes"])
    assert got["after"]["val_loss"] == pytest.approx(torch_run["losses"][best], rel=1e-4)
    assert got["details"].details["rolled_back_to"].endswith(f"epoch_{best}.pt")


@pytest.mark.torch
def test_torch_regularize_says_when_no_earlier_checkpoint_is_there(torch_run, tmp_path) -> None:
    import shutil

    lonely = tmp_path / "lonely"
    lonely.mkdir()
    shutil.copy(torch_run["root"] / "checkpoint.pt", lonely / "checkpoint.pt")
    got = _resume(lonely / "checkpoint.pt", torch_run["data"], torch_run["log"], tmp_path / "o")
    said = " ".join(got["changes"])
    assert "past the best" in said
    assert "no checkpoint of epoch 2" in said
    assert got["after"]["val_loss"] == pytest.approx(torch_run["losses"][4], rel=1e-4)
    kept = _resume(
        torch_run["root"] / "checkpoint.pt", torch_run["data"], torch_run["log"],
        tmp_path / "k", rollback=False,
    )  # fmt: skip
    assert any("--no-rollback" in c for c in kept["changes"])
    assert kept["after"]["val_loss"] == pytest.approx(torch_run["losses"][4], rel=1e-4)


@pytest.mark.keras
def test_keras_regularize_rolls_back_to_model_nn_keras(tmp_path) -> None:
    keras = pytest.importorskip("keras")
    data = _data(tmp_path)
    a = np.load(data)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rows = []
    for epoch in range(1, 4):
        if epoch == 1:
            model.fit(a["x_train"], a["y_train"], epochs=5, verbose=0)
        else:
            model.set_weights([w + 0.5 * np.random.default_rng(epoch).normal(size=w.shape)
                               for w in model.get_weights()])  # fmt: skip
        val = float(model.evaluate(a["x_val"], a["y_val"], verbose=0))
        rows.append({"epoch": epoch, "loss": 0.1, "val_loss": val})
        model.save(tmp_path / f"model-{epoch:02d}.keras")
    model.save(tmp_path / "model.keras")
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert rows[-1]["val_loss"] > rows[0]["val_loss"] * 1.01
    got = _resume(tmp_path / "model.keras", data, log, tmp_path / "o")
    assert any("rolled back to model-01.keras (weights and optimizer state)" in c
               for c in got["changes"])  # fmt: skip
    assert got["after"]["val_loss"] == pytest.approx(rows[0]["val_loss"], rel=1e-4)
