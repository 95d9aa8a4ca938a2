"""Widen's measurement on the sample `widen` scenario: each init against continuing unchanged.

Not a test (pytest does not collect it): the script that produced the table in the widen
package's docstring. Run from the repository root, one framework per process:

    python -m tests.strategies.widen.measure keras
    python -m tests.strategies.widen.measure torch

Every run goes through the CLI as a user's would (`plateau-cli resume ... --seed S`), 10 epochs,
patience above the epoch count so every run trains all 10; the figure is the best val_loss.
"Continue unchanged" is lr-decay with `--lr` set to the sample's own rate (the restored
optimizer, state and rate unchanged).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "sample_models"
EPOCHS = 10
SEEDS = (0, 1, 2)
RUNS = {
    "continue": ["--strategy", "lr-decay", "--lr", "0.01"],
    "zero-out x2": ["--strategy", "widen", "--init", "zero-out"],
    "zero-out x4": ["--strategy", "widen", "--init", "zero-out", "--factor", "4"],
    "net2net x2": ["--strategy", "widen", "--init", "net2net"],
    "net2net x4": ["--strategy", "widen", "--init", "net2net", "--factor", "4"],
    "random x2": ["--strategy", "widen", "--init", "random"],
}


def main(framework: str) -> None:
    if framework == "torch":
        import torch  # noqa: F401 - before TensorFlow, always
    from tests.e2e.runner import run_cli

    if framework == "keras":
        model = [str(SAMPLES / "keras/widen/model.keras")]
    else:
        model = [
            str(SAMPLES / "torch/widen/checkpoint.pt"),
            "--model-factory",
            f"{SAMPLES}/torch/nets.py:mlp",
            "--factory-arg",
            "hidden=4",
        ]
    data = ["--data", str(SAMPLES / "data/digits.npz")]
    table: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in RUNS.items():
            for seed in SEEDS:
                out = Path(tmp) / f"{name.replace(' ', '_')}_{seed}"
                argv = ["resume", *model, *data, *args, "--epochs", str(EPOCHS)]
                argv += ["--patience", str(EPOCHS + 1), "--seed", str(seed), "--out", str(out)]
                result = run_cli([*argv, "--json"])
                if result.code != 0:
                    raise SystemExit(f"{name} seed {seed}: exit {result.code}: {result.stderr}")
                report = json.loads(result.stdout)
                table.setdefault(name, []).append(report["best"]["metrics"]["val_loss"])
                print(name, seed, f"{table[name][-1]:.4f}", file=sys.stderr, flush=True)
    baseline = report["baseline"]["val_loss"]
    print(json.dumps({"framework": framework, "baseline": baseline, "best_val_loss": table}))


if __name__ == "__main__":
    main(sys.argv[1])
