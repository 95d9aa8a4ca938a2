"""A continued run as a person sees it: counters over the whole run, the command that goes on
after Ctrl-C, a report.md that names the real best epoch, and what to do with a finished run."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from plateau_cli.run import trainer as trainer_module
from tests.e2e.runner import run_cli

SAMPLES = Path(__file__).resolve().parents[2] / "sample_models"
sys.path.insert(0, str(SAMPLES))
import scenarios  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.torch]


def test_continue_counts_the_runs_epochs_and_reports_the_real_best(tmp_path, monkeypatch):
    out = tmp_path / "run"
    sample = scenarios.cli_args(scenarios.BY_NAME["lr"], "torch", SAMPLES)
    original = trainer_module.Trainer.on_epoch_end

    def stop_after_2(self, epoch, logs):
        if epoch == 2:
            self.guard.request("SIGINT")
        return original(self, epoch, logs)

    monkeypatch.setattr(trainer_module.Trainer, "on_epoch_end", stop_after_2)
    args = ["resume", *sample, "--strategy", "lr-decay", "--epochs", "6", "--patience", "6"]
    first = run_cli([*args, "--out", str(out)])
    assert first.code == 130, first.stderr
    assert re.findall(r"^epoch (\d+/\d+) ", first.stderr, re.M) == ["1/6", "2/6"]
    assert f"go on with: plateau-cli resume --continue {out}" in first.stderr

    monkeypatch.setattr(trainer_module.Trainer, "on_epoch_end", original)
    # Code the run used is named again (a report never grants it): the same --model-factory.
    second = run_cli(["resume", "--continue", str(out), *_code_args(sample)])
    assert second.code == 0, second.stderr
    # The run's real epoch over the run's length, not over what was left of it.
    assert re.findall(r"^epoch (\d+/\d+) ", second.stderr, re.M) == ["3/6", "4/6", "5/6", "6/6"]
    assert "improved" in second.stdout  # the summary is the result: stdout

    doc = json.loads((out / "report.json").read_text())
    best = doc["best"]["epoch"]
    assert best > 2  # the continued part found a better epoch than the interrupted one
    md = (out / "report.md").read_text()
    assert f"at best (epoch {best})" in md
    assert f"| metric | baseline | best (epoch {best}) |" in md
    restored = re.findall(r"restored the best weights: epoch (\d+)", md)
    assert all(int(e) == best for e in restored), restored
    assert ".continue" not in md  # that folder is gone once the run completes
    assert "continued after epoch 2 of 6" in md

    again = run_cli(["resume", "--continue", str(out), *_code_args(sample)])
    assert again.code == 2
    line = again.stderr.strip()
    assert "\n" not in line
    assert "start a new run from its checkpoint: plateau-cli resume" in line
    assert doc["output"]["path"] in line
    assert "--epochs N" in line


def _code_args(sample: list[str]) -> list[str]:
    """The --model-factory and --factory-arg options of a sample's command line."""
    picked = []
    for i, word in enumerate(sample[:-1]):
        if word in ("--model-factory", "--factory-arg"):
            picked += [word, sample[i + 1]]
    return picked
