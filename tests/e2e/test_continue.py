"""`resume --continue` for every strategy in both frameworks, on the sample plateaus.

Each run is interrupted after epoch 2 of 4 (the trainer is told to stop, exactly as SIGINT
tells it), then continued through the CLI. The continued report must cover epochs 1-4 with the
first two as they were, the change must not be made twice, and the output must load.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from plateau_cli.run import trainer as trainer_module
from tests.e2e.runner import run_cli

SAMPLES = Path(__file__).resolve().parents[2] / "sample_models"
sys.path.insert(0, str(SAMPLES))
import scenarios  # noqa: E402

CASES = [
    ("lr", "lr-decay", ["--schedule", "step", "--step-size", "2", "--gamma", "0.5"]),
    ("widen", "widen", []),
    ("unfreeze", "unfreeze", ["--gradual", "--layers", "all"]),
    ("augment", "augment", []),
]


def _args(framework: str, name: str, strategy: str, extra: list[str], out: Path) -> list[str]:
    sample = scenarios.cli_args(scenarios.BY_NAME[name], framework, SAMPLES)
    # Patience above the epoch count: the run completes whatever the sample's numbers do
    # (this test is about continuing, not about improving; the Keras augment sample does not
    # beat its baseline within 4 epochs under every shuffle order).
    args = ["resume", *sample, "--strategy", strategy, "--epochs", "4", "--patience", "5"]
    return [*args, "--out", str(out), "--json", *extra]


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.torch
@pytest.mark.parametrize("framework", ["keras", "torch"])
@pytest.mark.parametrize(("name", "strategy", "extra"), CASES, ids=[c[1] for c in CASES])
def test_interrupt_then_continue(framework, name, strategy, extra, tmp_path, monkeypatch):
    out = tmp_path / "run"
    original = trainer_module.Trainer.on_epoch_end

    def stop_after_2(self, epoch, logs):
        if epoch == 2:
            self.guard.request("SIGINT")
        return original(self, epoch, logs)

    monkeypatch.setattr(trainer_module.Trainer, "on_epoch_end", stop_after_2)
    first = run_cli(_args(framework, name, strategy, extra, out))
    assert first.code == 130, first.stderr
    interrupted = json.loads(first.stdout)
    assert interrupted["stopped_reason"] == "interrupted"
    assert interrupted["epochs_run"] == 2
    assert (out / ".continue").is_dir()

    monkeypatch.setattr(trainer_module.Trainer, "on_epoch_end", original)
    sample = scenarios.cli_args(scenarios.BY_NAME[name], framework, SAMPLES)
    at = sample.index("--model-factory") if "--model-factory" in sample else len(sample)
    again = sample[at : at + 2]
    second = run_cli(["resume", "--continue", str(out), *again, "--json"])  # code named again
    assert second.code == 0, second.stderr
    done = json.loads(second.stdout)
    assert done["stopped_reason"] == "completed"
    assert [row["epoch"] for row in done["history"]] == [1, 2, 3, 4]
    assert done["history"][:2] == interrupted["history"]
    assert done["baseline"] == interrupted["baseline"]
    assert done["strategy"] == interrupted["strategy"]
    assert done["continuation"] is None
    assert not (out / ".continue").exists()
    assert any(e.startswith("continued after epoch 2 of 4") for e in done["events"])
    assert done["output_metrics"]["val_loss"] == pytest.approx(
        done["best"]["metrics"]["val_loss"], rel=1e-5, abs=1e-6
    )
    rates = [row["lr"] for row in done["history"]]
    if strategy == "lr-decay":  # the step schedule goes on where it was
        assert rates == pytest.approx([rates[0], rates[0], rates[0] / 2, rates[0] / 2])
    else:  # the change (e.g. augment's lowered rate) is not made a second time
        assert rates[2] == pytest.approx(rates[1])
    if strategy == "unfreeze":  # gradual: one block per epoch, never twice
        unfrozen = [e for e in done["events"] if "unfroze" in e]
        assert len(unfrozen) == len(set(unfrozen))
