"""`--strategy auto` on every sample plateau chooses what benchmarks/escape.py measured best.

The expected strategy per scenario is read from the committed benchmark results
(benchmarks/results/escape.json, made by `python benchmarks/escape.py --all-strategies --json`),
not written down by hand: if a regenerated sample changes the winner, this test says so.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.e2e.runner import run_cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_models"
RESULTS = ROOT / "benchmarks" / "results" / "escape.json"
STRATEGIES = {"lr-decay", "augment", "widen", "unfreeze"}

sys.path.insert(0, str(SAMPLES))
import scenarios  # noqa: E402


def measured_best() -> dict[tuple[str, str], str]:
    losses: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for row in json.loads(RESULTS.read_text()):
        if row["arm"] in STRATEGIES and "error" not in row:
            losses[(row["framework"], row["scenario"], row["arm"])].append(row["best_val_loss"])
    best: dict[tuple[str, str], tuple[float, str]] = {}
    for (framework, scenario, arm), values in losses.items():
        mean = statistics.mean(values)
        if (framework, scenario) not in best or mean < best[(framework, scenario)][0]:
            best[(framework, scenario)] = (mean, arm)
    return {key: arm for key, (_, arm) in best.items()}


def _args(framework: str, scenario, out: Path, with_log: bool) -> list[str]:
    args = ["resume", *scenarios.cli_args(scenario, framework, SAMPLES), "--strategy", "auto"]
    args += ["--epochs", "1", "--out", str(out), "--json"]
    log = scenarios.log_path(scenario, framework, SAMPLES)
    return args + (["--log", str(log)] if with_log else [])


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.torch
@pytest.mark.parametrize("with_log", [False, True], ids=["checkpoint-only", "with-log"])
@pytest.mark.parametrize("framework", ["keras", "torch"])
def test_auto_matches_the_measured_best(framework, with_log, tmp_path):
    best = measured_best()
    matches, choices = 0, {}
    for scenario in scenarios.SCENARIOS:
        out = tmp_path / scenario.name
        result = run_cli(_args(framework, scenario, out, with_log))
        assert result.code == 0, result.stderr
        report = json.loads(result.stdout)
        chosen = report["auto"]["chosen"]
        assert report["strategy"]["name"] == chosen
        assert report["auto"]["reason"]
        assert report["auto"]["evidence"]["val_loss"] == pytest.approx(
            report["baseline"]["val_loss"]
        )
        assert (report["auto"]["log"] is not None) == with_log
        choices[scenario.name] = (chosen, best[(framework, scenario.name)])
        matches += chosen == best[(framework, scenario.name)]
    # The issue asks for 3 of 4 scenarios; the five samples are held to 4 of 5.
    assert matches >= 4, choices


@pytest.mark.keras
def test_auto_reads_the_dead_units_from_checkpoint_and_data(tmp_path):
    scenario = scenarios.BY_NAME["dead"]
    result = run_cli(_args("keras", scenario, tmp_path / "o", with_log=False))
    assert result.code == 0, result.stderr
    auto = json.loads(result.stdout)["auto"]
    assert auto["rule"] == "dead-units"
    assert auto["evidence"]["dead_units"] == [
        {"layer": "hidden", "activation": "relu", "units": 64, "dead": 61}
    ]
    md = (tmp_path / "o" / "report.md").read_text()
    assert md.startswith("# plateau-cli resume: revive (chosen by --strategy auto)\n")
    assert "**Why revive**: 61 of 64 units" in md  # auto's reason, in the report
    assert "FINDINGS" not in md


def test_a_missing_log_fails_before_anything_is_written(tmp_path):
    args = ["resume", str(SAMPLES / "keras" / "lr" / "model.keras"), "--strategy", "lr-decay"]
    args += ["--data", str(SAMPLES / "data" / "digits.npz"), "--log", str(tmp_path / "x.log")]
    result = run_cli([*args, "--out", str(tmp_path / "o")])
    assert result.code == 2
    assert "x.log" in result.stderr
    assert not (tmp_path / "o").exists()
