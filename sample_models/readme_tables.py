"""The two generated tables of sample_models/README.md: the samples, and the measured figures.

Both are built from scenarios.py and figures.json, so the commands and numbers in the README
are the ones the files were made with; make_samples.py rewrites them between the
`<!-- BEGIN name -->` / `<!-- END name -->` markers and leaves the prose around them alone.
"""

from __future__ import annotations

import re
from typing import Any

from scenarios import CHECK_EPOCHS, SCENARIOS, Scenario

PREFIX = "sample_models"
RESUME_EPOCHS = CHECK_EPOCHS


def model_path(scenario: Scenario, framework: str) -> str:
    name = "model.keras" if framework == "keras" else "checkpoint.pt"
    return f"{PREFIX}/{framework}/{scenario.name}/{name}"


def log_path(scenario: Scenario, framework: str) -> str:
    name = "training.log" if framework == "keras" else "train_log.jsonl"
    return f"{PREFIX}/{framework}/{scenario.name}/{name}"


def data_path(scenario: Scenario, framework: str) -> str:
    name = scenario.keras_data if framework == "keras" else scenario.torch_data
    return f"{PREFIX}/data/{name}"


def command(scenario: Scenario, framework: str) -> str:
    """The `plateau-cli resume` line for a sample, run from the repository root."""
    parts = [
        "plateau-cli resume",
        model_path(scenario, framework),
        f"--strategy {scenario.strategy}",
        f"--data {data_path(scenario, framework)}",
    ]
    if framework == "torch":
        parts.append(f"--model-factory {PREFIX}/torch/nets.py:{scenario.factory}")
        parts += [f"--factory-arg {key}={value}" for key, value in scenario.factory_args]
    if scenario.strategy == "auto":
        parts.append(f"--log {log_path(scenario, framework)}")
    parts.append(f"--epochs {RESUME_EPOCHS}")
    # Into the git-ignored runs/ folder: following the table leaves the checkout clean.
    parts.append(f"--out runs/{scenario.name}-{framework}")
    return " ".join(parts)


def samples_table() -> str:
    lines = [
        "| scenario | framework | files | model | how it was stalled | strategy | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        for framework in ("keras", "torch"):
            files = f"`{model_path(scenario, framework)}`, `{log_path(scenario, framework)}`"
            lines.append(
                f"| {scenario.name} | {framework} | {files} | {scenario.model}"
                f" | {scenario.stalled_by} | {scenario.strategy}"
                f" | `{command(scenario, framework)}` |"
            )
    return "\n".join(lines)


def _check(figures: dict[str, Any], name: str, reference: float) -> str:
    check = figures.get(name)
    if not check:
        return "not measured"
    best = check["best_val_loss"]
    return f"{best:.3f} ({best - reference:+.3f}), acc {check['best_val_accuracy']:.3f}"


def figures_table(figures: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| sample | params (trainable) | size | epochs | train loss | val_loss (best, epoch)"
        " | val acc | inactive units"
        f" | continue unchanged {CHECK_EPOCHS} ep: best val_loss (vs run's best)"
        f" | lr x0.1 {CHECK_EPOCHS} ep: best val_loss (vs run's best) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, f in figures.items():
        best = f["best_val_loss"]
        lines.append(
            f"| {key} | {f['params']:,} ({f['trainable_params']:,})"
            f" | {f['size_bytes'] / 1024:.0f} KB | {f['epochs']} | {f['train_loss']:.4f}"
            f" | {f['val_loss']:.3f} ({best:.3f}, {f['best_epoch']})"
            f" | {f['val_accuracy']:.3f} | {f['inactive_units'] or '-'}"
            f" | {_check(f, 'continue', best)} | {_check(f, 'lr_x0.1', best)} |"
        )
    return "\n".join(lines)


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- BEGIN {name} -->\n)(?:.*?\n)?(<!-- END {name} -->)", re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"error: README.md has no <!-- BEGIN {name} --> ... END block")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text, count=1)
