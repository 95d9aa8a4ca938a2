"""`inspect` without --model-factory: a bare state dict, a safetensors file, a checkpoint dict
and an optimizer.pt each show what the file says by itself, through the CLI, exit 0."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from tests.e2e.runner import run_cli  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture
def trained():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 3))
    decay = [p for p in model.parameters() if p.dim() > 1]
    rest = [p for p in model.parameters() if p.dim() <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}], lr=0.002
    )
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.randn(5, 4)).sum().backward()
        optimizer.step()
    return model, optimizer


def _inspect(path):
    from tests.test_schemas import validate

    result = run_cli(["inspect", str(path), "--json"])
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    validate(document, "inspect")
    return document


def test_state_dict_and_safetensors_list_tensors_without_a_factory(tmp_path, trained):
    model, _ = trained
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    safetensors_torch.save_file(model.state_dict(), str(tmp_path / "weights.safetensors"))

    for name, layout in (
        ("weights.pt", "torch-state-dict"),
        ("weights.safetensors", "safetensors"),
    ):
        shown = _inspect(tmp_path / name)
        assert shown["format"] == layout
        assert shown["params"]["total"] == sum(p.numel() for p in model.parameters())
        assert [layer["name"] for layer in shown["layers"]] == ["0", "1", "2"]
        assert "(8, 4)" in json.dumps(shown["layers"])


def test_optimizer_file_shows_class_groups_and_steps(tmp_path, trained):
    _, optimizer = trained
    torch.save(optimizer.state_dict(), tmp_path / "optimizer.pt")

    shown = _inspect(tmp_path / "optimizer.pt")

    assert shown["format"] == "optimizer-state"
    assert shown["optimizer"]["name"] == "AdamW"
    assert shown["optimizer"]["iterations"] == 3
    assert "group 1: 4 tensors" in shown["optimizer"]["detail"]
    assert "weight_decay 0.05" in shown["optimizer"]["detail"]


def test_checkpoint_dict_shows_epoch_and_best_entries(tmp_path, trained):
    model, optimizer = trained
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 10)
    torch.save(
        {
            "epoch": 7,
            "best_acc1": 0.5,
            "state_dict": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
        },
        tmp_path / "checkpoint.pth.tar",
    )

    shown = _inspect(tmp_path / "checkpoint.pth.tar")

    assert shown["format"] == "torch-checkpoint-dict"
    assert shown["optimizer"]["name"] == "AdamW"
    assert "scheduler at step 0" in (shown["optimizer"]["schedule"] or "")
    assert "epoch 7, best_acc1 0.5" in shown["notes"]
