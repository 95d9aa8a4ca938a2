"""AdamW with two param groups (no decay on biases and norms) + OneCycleLR + an AMP GradScaler,
saved as a checkpoint dict the way a training script saves them, resumed through the CLI: every
group keeps its weight decay and moments, the rate changes in every group alike, the scheduler
agrees with the new rate when the user's own OneCycleLR loads it, the scaler state is kept, and
the reported metrics are those of the written weights. StepLR, CosineAnnealingLR, LambdaLR and
ReduceLROnPlateau states are rescaled the same way."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.compat.torch import seq_models  # noqa: E402
from tests.compat.torch.cli import SEQ_MODELS, resume  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]

STEPS_PER_EPOCH = 10
TOTAL_STEPS = 100


def _digits_npz(path):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    np.savez(path, x_train=x[:320], y_train=y[:320], x_val=x[320:480], y_val=y[320:480])
    return x[:320], y[:320], x[320:480], y[320:480]


def _scheduler(kind, optimizer):
    sched = torch.optim.lr_scheduler
    if kind == "onecycle":
        return sched.OneCycleLR(optimizer, max_lr=0.02, total_steps=TOTAL_STEPS)
    if kind == "step":
        return sched.StepLR(optimizer, step_size=15, gamma=0.5)
    if kind == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=TOTAL_STEPS)
    if kind == "lambda":
        return sched.LambdaLR(optimizer, lambda step: 1.0 / (1 + 0.05 * step))
    return sched.ReduceLROnPlateau(optimizer, patience=2)


@pytest.mark.parametrize("kind", ["onecycle", "step", "cosine", "lambda", "plateau"])
def test_two_groups_and_a_scheduler_stay_consistent(tmp_path, kind):
    x, y, x_val, y_val = _digits_npz(tmp_path / "digits.npz")
    torch.manual_seed(0)
    model = seq_models.make_norm_mlp()
    optimizer = torch.optim.AdamW(seq_models.no_decay_groups(model), lr=0.01)
    scheduler = _scheduler(kind, optimizer)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    for _ in range(3):
        for start in range(0, 320, 32):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(
                model(torch.from_numpy(x[start : start + 32])),
                torch.from_numpy(y[start : start + 32]),
            )
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            if kind != "plateau":
                scheduler.step()
        if kind == "plateau":
            scheduler.step(loss.item())
    saved_rates = [g["lr"] for g in optimizer.param_groups]
    path = tmp_path / "run.pth.tar"
    torch.save(
        {
            "epoch": 3,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
        },
        path,
    )

    report = resume(
        path,
        tmp_path / "out",
        "--model-factory",
        f"{SEQ_MODELS}:make_norm_mlp",
        "--data",
        str(tmp_path / "digits.npz"),
        "--epochs",
        "2",
    )

    out = report["output"]["path"]
    assert out.endswith(".pth.tar")
    written = torch.load(out, weights_only=True)
    assert written["scaler"] == scaler.state_dict()
    groups = written["optimizer"]["param_groups"]
    assert [g["weight_decay"] for g in groups] == [0.05, 0.0]
    factor = groups[0]["lr"] / saved_rates[0]
    assert factor < 1
    assert groups[1]["lr"] == pytest.approx(saved_rates[1] * factor)

    # The user's own construction (model, optimizer and scheduler built, then each state
    # loaded: OneCycleLR's max_lr lives in the optimizer's groups) takes the written states ...
    user_model = seq_models.make_norm_mlp()
    user_optimizer = torch.optim.AdamW(seq_models.no_decay_groups(user_model), lr=0.01)
    user_scheduler = _scheduler(kind, user_optimizer)
    user_model.load_state_dict(written["model"])
    user_optimizer.load_state_dict(written["optimizer"])
    user_scheduler.load_state_dict(written["scheduler"])
    # ... and the next scheduler step continues from the new rate, not the old one.
    assert user_scheduler.get_last_lr() == pytest.approx([g["lr"] for g in groups])
    if kind == "plateau":
        assert written["scheduler"]["num_bad_epochs"] == 0
        user_scheduler.step(0.0)
    else:
        user_scheduler.step()
        scheduler.step()
        expected = [lr * factor for lr in scheduler.get_last_lr()]
        assert user_scheduler.get_last_lr() == pytest.approx(expected, rel=1e-3)

    user_model.eval()
    with torch.no_grad():
        logits = user_model(torch.from_numpy(x_val))
        val_loss = float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(y_val)))
    assert report["output_metrics"]["val_loss"] == pytest.approx(val_loss, rel=1e-5)
