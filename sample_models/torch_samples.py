"""Train, stall and save the torch samples; then measure what continuing would give.

Run by make_samples.py in a process of its own (`--worker torch`). The loop is the plain one a
user writes: shuffled mini-batches, CrossEntropyLoss, the epoch's mean batch loss and accuracy as
`loss`/`accuracy`, an eval-mode pass over the validation set, one JSON line per epoch, and a
checkpoint dict (`model_state_dict`, `optimizer_state_dict`, `epoch`, `loss`) at the end.
The checks reload that file the way plateau-cli does (weights_only=True, the factory in nets.py,
the optimizer rebuilt over the same parameters and given its saved state), so they measure the
file, not the objects still in memory.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch  # noqa: TID253 - this worker is the torch training script
from torch import nn  # noqa: TID253

from scenarios import (
    BATCH_SIZE,
    CHECK_EPOCHS,
    MOMENTUM,
    PRETRAIN_CLASSES,
    PRETRAIN_EPOCHS,
    PRETRAIN_LR,
    WEIGHT_DECAY,
    Scenario,
)

HERE = Path(__file__).resolve().parent
CHECK_SEED_OFFSET = 1000
Arrays = dict[str, np.ndarray]


def load_nets() -> ModuleType:
    """nets.py by its path, as --model-factory loads it (sample_models/torch is no package)."""
    spec = importlib.util.spec_from_file_location("sample_nets", HERE / "torch" / "nets.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {HERE / 'torch' / 'nets.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NETS = load_nets()


def build(scenario: Scenario, classes: int = 10) -> nn.Module:
    kwargs: dict[str, Any] = {}
    for key, raw in scenario.factory_args:
        try:
            kwargs[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            kwargs[key] = raw
    return getattr(NETS, scenario.factory)(classes=classes, **kwargs)


def trained_parameters(scenario: Scenario, model: nn.Module) -> list[nn.Parameter]:
    """What the optimizer updates: the head only when the base is frozen."""
    if scenario.name == "unfreeze":
        for parameter in model.base.parameters():
            parameter.requires_grad_(False)
        return list(model.head.parameters())
    return list(model.parameters())


def make_optimizer(kind: str, params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=WEIGHT_DECAY)
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=MOMENTUM)
    return torch.optim.Adam(params, lr=lr)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y).item()
        accuracy = (logits.argmax(1) == y).float().mean().item()
    return loss, accuracy


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Arrays,
    epochs: int,
    generator: torch.Generator,
    log: Path | None = None,
    validate: bool = True,
) -> list[dict[str, float]]:
    x, y = torch.from_numpy(data["x_train"]), torch.from_numpy(data["y_train"])
    loss_fn = nn.CrossEntropyLoss()
    rows: list[dict[str, float]] = []
    handle = log.open("w", encoding="utf-8") if log else None
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(len(x), generator=generator)
            total, correct = 0.0, 0
            for start in range(0, len(x), BATCH_SIZE):
                batch = order[start : start + BATCH_SIZE]
                optimizer.zero_grad()
                logits = model(x[batch])
                loss = loss_fn(logits, y[batch])
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
                correct += int((logits.argmax(1) == y[batch]).sum())
            row = {"epoch": epoch, "loss": total / len(x), "accuracy": correct / len(x)}
            if validate:
                xv, yv = torch.from_numpy(data["x_val"]), torch.from_numpy(data["y_val"])
                row["val_loss"], row["val_accuracy"] = evaluate(model, xv, yv)
            row["lr"] = optimizer.param_groups[0]["lr"]
            rows.append(row)
            if handle:
                handle.write(json.dumps(row) + "\n")
                handle.flush()
    finally:
        if handle:
            handle.close()
    return rows


def pretrained_base(scenario: Scenario, data: Arrays, generator: torch.Generator) -> nn.Module:
    """The `unfreeze` base: trained with a 5-class head on digits 0-4 of the same split."""
    keep = np.isin(data["y_train"], PRETRAIN_CLASSES)
    subset = {"x_train": data["x_train"][keep], "y_train": data["y_train"][keep]}
    model = build(scenario, classes=len(PRETRAIN_CLASSES))
    optimizer = torch.optim.Adam(model.parameters(), lr=PRETRAIN_LR)
    train(model, optimizer, subset, PRETRAIN_EPOCHS, generator, validate=False)
    return model.base


def inactive_units(model: nn.Module, x: np.ndarray) -> tuple[int, int] | None:
    """Hidden units whose pre-activation is <= 0 on every training example (dead for ReLU)."""
    if not isinstance(model, nn.Sequential):
        return None
    with torch.no_grad():
        z = model[0](torch.from_numpy(x))
    return int((z.max(0).values <= 0).sum()), int(z.shape[1])


def make_sample(scenario: Scenario, data: Arrays, out: Path, checks: bool) -> dict[str, Any]:
    started = time.perf_counter()
    recipe = scenario.torch
    torch.manual_seed(recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    model = build(scenario)
    if scenario.name == "unfreeze":
        model.base.load_state_dict(pretrained_base(scenario, data, generator).state_dict())
    optimizer = make_optimizer(scenario.optimizer, trained_parameters(scenario, model), recipe.lr)
    out.mkdir(parents=True, exist_ok=True)
    history = train(model, optimizer, data, recipe.epochs, generator, log=out / "train_log.jsonl")
    checkpoint = out / "checkpoint.pt"
    state = {
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "epoch": recipe.epochs,
        "loss": history[-1]["loss"],
    }
    partial = checkpoint.with_name(checkpoint.name + ".partial")
    torch.save(state, partial)
    os.replace(partial, checkpoint)
    units = inactive_units(model, data["x_train"])
    result: dict[str, Any] = {
        "params": sum(p.numel() for p in model.parameters()),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "inactive_units": units,
        "history": history,
        "checks": {},
    }
    if checks:
        for name, factor in (("continue", 1.0), ("lr_x0.1", 0.1)):
            result["checks"][name] = resume(scenario, checkpoint, data, factor)
    result["seconds"] = time.perf_counter() - started
    return result


def resume(
    scenario: Scenario, checkpoint: Path, data: Arrays, lr_factor: float
) -> list[dict[str, float]]:
    """CHECK_EPOCHS more epochs from the saved file, the learning rate times `lr_factor`."""
    saved = torch.load(checkpoint, weights_only=True)
    torch.manual_seed(scenario.torch.seed + CHECK_SEED_OFFSET)
    model = build(scenario)
    model.load_state_dict(saved["model_state_dict"])
    optimizer = make_optimizer(
        scenario.optimizer, trained_parameters(scenario, model), scenario.torch.lr
    )
    optimizer.load_state_dict(saved["optimizer_state_dict"])
    for group in optimizer.param_groups:
        group["lr"] *= lr_factor
    generator = torch.Generator().manual_seed(scenario.torch.seed + CHECK_SEED_OFFSET)
    return train(model, optimizer, data, CHECK_EPOCHS, generator)


def run(scenarios: list[Scenario], root: Path, checks: bool) -> list[dict[str, Any]]:
    torch.set_num_threads(1)  # the same sums in the same order on every machine
    torch.use_deterministic_algorithms(True)
    results = []
    for scenario in scenarios:
        with np.load(root / "data" / scenario.torch_data) as archive:
            data = {key: archive[key] for key in archive.files}
        result = make_sample(scenario, data, root / "torch" / scenario.name, checks)
        results.append({"scenario": scenario.name, "framework": "torch", **result})
        print(f"  torch/{scenario.name}: {result['seconds']:.1f} s", flush=True)
    return results
