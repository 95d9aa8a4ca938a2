"""SIGKILL at many points of a save leaves the old complete file or the new one, never half.

tests/reliability/save_child.py does the killing (see its docstring for how the points are
chosen: spread over every profiler event of the save, plus the instants around `os.replace`).
Here each state a kill left behind is opened with the reader a user would use (json, csv,
torch.load, keras.models.load_model) and must be generation A (the file before) or generation
B (the file being written) in full; then the next run's `ensure_out_dir` must remove every
temporary file the kills stranded. The manifest also has to show that the kills really landed
on both sides of the rename and inside the writing, or the test proves nothing.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from plateau_cli.atomic import TEMP_PREFIX
from plateau_cli.outputs import ensure_out_dir, sha256_of

ROOT = Path(__file__).resolve().parents[2]
KILLED = -9
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the kill driver forks")


def run_child(kind: str, workdir: Path, points: int, *extra: str) -> dict:
    # The checkout's own sources first, whatever copy of plateau_cli is installed.
    path = f"{ROOT / 'src'}{os.pathsep}{ROOT}"
    env = {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.reliability.save_child", kind, str(workdir), str(points),
         *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((workdir / "manifest.json").read_text())


def strays(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(TEMP_PREFIX))


def check_every_kill(workdir: Path, manifest: dict, read_generation) -> dict[str, int]:
    """Apply the contract to every state a kill left; count what was seen."""
    seen = {"A": 0, "B": 0, "absent": 0, "with_strays": 0}
    assert manifest["outcomes"], manifest
    for point, status in manifest["outcomes"].items():
        assert status == KILLED, f"kill point {point}: the child ended with {status}, not SIGKILL"
        state = workdir / "after" / point
        target = state / manifest["name"]
        if target.exists():
            generation = read_generation(target)
            assert generation in ("A", "B"), f"kill point {point}: {generation}"
            seen[generation] += 1
        else:
            assert not manifest["previous"], f"kill point {point}: the previous file was lost"
            seen["absent"] += 1
        if strays(state):
            seen["with_strays"] += 1
        before = read_generation(target) if target.exists() else None
        ensure_out_dir(state)  # what the next run does first
        assert strays(state) == [], f"kill point {point}: temporaries left after the next run"
        assert (read_generation(target) if target.exists() else None) == before
    return seen


def assert_real_coverage(manifest: dict, seen: dict[str, int]) -> None:
    """Kills before the rename, after it, and while a temporary file was half written."""
    labels = [label for _, label in manifest["key_events"]]
    assert "c_call:replace" in labels, manifest["key_events"]
    assert seen["B"] >= 2, seen  # killed after os.replace returned
    assert seen["A" if manifest["previous"] else "absent"] >= 3, seen  # killed before it
    assert seen["with_strays"] >= 3, seen  # killed with a temporary file on disk


def text_generation(path: Path) -> str:
    """report.json must parse whole, and history.csv (beside it) must hold every row."""
    doc = json.loads(path.read_text())  # a truncated file fails here
    assert doc["end"] is True
    assert len(doc["rows"]) == 4000
    history = path.parent / "history.csv"
    if history.exists():
        rows = list(csv.reader(history.read_text().splitlines()))
        assert rows[0] == ["epoch", "loss", "generation"]
        assert len(rows) == 3002, len(rows)
        assert rows[-1][:2] == ["end", "end"]
        assert {r[2] for r in rows[1:]} in ({"A"}, {"B"})
    return doc["generation"]


@pytest.mark.parametrize("previous", [True, False], ids=["over-a-previous-file", "fresh"])
def test_atomic_text_writes_survive_sigkill_anywhere(tmp_path, previous):
    manifest = run_child("text", tmp_path, 20, *([] if previous else ["fresh"]))
    seen = check_every_kill(tmp_path, manifest, text_generation)
    assert_real_coverage(manifest, seen)


def test_resume_artefact_set_stays_consistent_under_sigkill(tmp_path):
    """Every file whole, and a report.json present only beside the checkpoint it describes."""

    def generation(path: Path) -> str:
        with np.load(path) as stored:
            values = set(np.unique(stored["w"]).tolist())
        assert values in ({0.0}, {1.0}), values
        report = path.parent / "report.json"
        if report.exists():
            doc = json.loads(report.read_text())
            assert doc["output"]["sha256"] == sha256_of(path), "report.json describes another file"
            history = list(csv.DictReader((path.parent / "history.csv").read_text().splitlines()))
            assert len(history) == doc["epochs_run"]
        for png in path.parent.glob("curves.png"):
            assert png.read_bytes().endswith(b"IEND\xaeB`\x82"), "a truncated PNG"
        return "A" if values == {0.0} else "B"

    manifest = run_child("artefacts", tmp_path, 20)
    assert_real_coverage(manifest, check_every_kill(tmp_path, manifest, generation))


@pytest.mark.torch
def test_torch_checkpoint_save_survives_sigkill_anywhere(tmp_path):
    torch = pytest.importorskip("torch")

    def generation(path: Path) -> str:
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert set(state) >= {"epoch", "model_state_dict", "optimizer_state_dict"}
        values = {float(v) for t in state["model_state_dict"].values() for v in t.flatten()}
        assert values in ({0.0}, {1.0}), values
        return "A" if values == {0.0} else "B"

    manifest = run_child("torch", tmp_path, 14)
    assert manifest["events"] > 1000  # the kills fell inside torch.save, not only around it
    assert_real_coverage(manifest, check_every_kill(tmp_path, manifest, generation))


@pytest.mark.slow
@pytest.mark.keras
def test_keras_model_save_survives_sigkill_anywhere(tmp_path):
    keras = pytest.importorskip("keras")

    def generation(path: Path) -> str:
        model = keras.models.load_model(path)  # raises on a truncated archive
        values = np.unique(np.concatenate([w.ravel() for w in model.get_weights()]))
        assert values.tolist() in ([0.0], [1.0]), values[:5]
        return "A" if values.tolist() == [0.0] else "B"

    manifest = run_child("keras", tmp_path, 14)
    assert manifest["events"] > 10_000  # inside model.save: zipfile, h5py, Keras' own code
    assert_real_coverage(manifest, check_every_kill(tmp_path, manifest, generation))


@pytest.mark.torch
def test_the_next_resume_cleans_up_after_a_killed_one(torch_checkpoint, digits, tmp_path):
    """What a SIGKILL leaves in --out (temporaries, a report.json of the run before) is gone or
    moved aside (`--overwrite`, which a report.json in --out requires) after the next real run,
    and report.json describes the checkpoint beside it."""
    pytest.importorskip("torch")
    from tests.e2e.runner import run_cli
    from tests.reliability.conftest import MLP_FACTORY

    out = tmp_path / "out"
    out.mkdir()
    (out / f"{TEMP_PREFIX}abc123.pt").write_bytes(b"PK\x03\x04 half a checkpoint")
    (out / f"{TEMP_PREFIX}dir").mkdir()
    (out / f"{TEMP_PREFIX}dir" / "model.weights.h5").write_bytes(b"half")
    (out / "report.json").write_text('{"output": {"sha256": "of another checkpoint"}}')
    result = run_cli(["resume", str(torch_checkpoint), "--model-factory", MLP_FACTORY,
                      "--strategy", "lr-decay", "--data", str(digits), "--epochs", "1",
                      "--out", str(out), "--overwrite", "--quiet"])  # fmt: skip
    assert result.code == 0, result.stderr
    assert strays(out) == []
    (previous,) = out.glob(".previous-*")
    assert json.loads((previous / "report.json").read_text())["output"]["sha256"] == (
        "of another checkpoint"
    )
    report = json.loads((out / "report.json").read_text())
    assert report["output"]["sha256"] == sha256_of(out / "checkpoint.pt")
