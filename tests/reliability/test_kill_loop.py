"""SIGKILL a real `plateau-cli resume` at 20 moments, then `--continue`: nothing lost or mixed.

tests/reliability/kill_loop_child.py does the killing (see its docstring): every save of the
run (the per-epoch recovery checkpoint and report, the final checkpoint, history.csv,
curves.png, report.md, report.json) is killed just before its rename, and the other points
are spread over batches, history.csv appends, renames done and folders dropped. Every kill
directory started as a copy of an older finished run, written into with `--overwrite`.

After each kill the directory must hold only complete files: every checkpoint loads, every
JSON parses, history.csv is whole lines, and nothing at the top level is a file of the older
run (its files are all in `.previous-*/`, byte for byte). Then `--continue` must finish the run
(epochs 1..3 in report.json's history) repeating at most one epoch the killed run had trained,
or say in one line why there is nothing to continue: the run had finished (its report.json is
complete), or it was killed before its first recovery point existed.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from plateau_cli.atomic import TEMP_PREFIX
from plateau_cli.out_claim import LOCK_NAME, PREVIOUS_PREFIX
from plateau_cli.outputs import sha256_of

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_models"
KILLED = -9
EPOCHS = 3
pytestmark = [
    pytest.mark.slow,
    pytest.mark.torch,
    pytest.mark.skipif(not hasattr(os, "fork"), reason="the kill driver forks"),
]


def _resume_args() -> list[str]:
    torch_dir = SAMPLES / "torch"
    return [
        "resume", str(torch_dir / "lr" / "checkpoint.pt"),
        "--data", str(SAMPLES / "data" / "digits_small.npz"),
        "--model-factory", f"{torch_dir / 'nets.py'}:mlp",
        "--factory-arg", "hidden=32", "--factory-arg", "activation=leaky_relu",
        "--strategy", "lr-decay", "--epochs", str(EPOCHS), "--patience", str(EPOCHS), "-q",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def kill_loop(tmp_path_factory) -> tuple[Path, dict]:
    workdir = tmp_path_factory.mktemp("kill_loop")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.reliability.kill_loop_child", str(workdir), "20", "--",
         *_resume_args()],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir, json.loads((workdir / "manifest.json").read_text())


def _epochs(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def _check_loadable(path: Path) -> None:
    """Open a file the way a user would; raises if it is not complete."""
    if path.suffix == ".pt":
        state = torch.load(path, weights_only=True)
        assert "model_state_dict" in state
    elif path.suffix == ".json":
        json.loads(path.read_text())
    elif path.suffix == ".csv":
        text = path.read_text()
        assert text.endswith("\n"), path
        rows = list(csv.reader(text.splitlines()))
        assert rows[0][0] == "epoch", path
        assert all(len(r) == len(rows[0]) for r in rows), path
    elif path.suffix == ".png":
        assert path.read_bytes().startswith(b"\x89PNG"), path
    elif path.suffix == ".md":
        assert path.read_text().strip(), path


def test_kill_points_cover_every_save(kill_loop):
    _, manifest = kill_loop
    labels = manifest["labels"]
    points = [o["point"] for o in manifest["outcomes"]]
    saves = [i + 1 for i, label in enumerate(labels) if label.startswith("before-rename:")]
    assert len(points) == 20
    assert set(saves) <= set(points)  # killed during every save
    kinds = {labels[p - 1].split(":")[0] for p in points}
    assert {"before-rename", "batch", "append"} <= kinds
    assert all(o["killed"] == KILLED for o in manifest["outcomes"]), manifest["outcomes"]


def test_every_killed_directory_holds_only_complete_files_of_one_run(kill_loop):
    workdir, manifest = kill_loop
    old = workdir / "old"
    # curves.png is the driver's constant 1x1 stand-in, the same bytes in every run.
    old_files = {sha256_of(p) for p in old.rglob("*") if p.is_file() and p.suffix != ".png"}
    for outcome in manifest["outcomes"]:
        after = workdir / "after" / str(outcome["point"])
        previous = [p for p in after.iterdir() if p.name.startswith(PREVIOUS_PREFIX)]
        assert len(previous) == 1, outcome  # the older run, moved aside whole
        for path in old.iterdir():
            if path.is_file():
                assert sha256_of(previous[0] / path.name) == sha256_of(path), (outcome, path)
        for path in after.rglob("*"):
            if not path.is_file() or previous[0] in path.parents:
                continue
            if path.name.startswith(TEMP_PREFIX) or any(
                p.name.startswith(TEMP_PREFIX) for p in path.parents
            ):
                continue  # a save the kill cut short: the next run removes it
            if path.name == LOCK_NAME:
                continue  # the dead run's lock: free, taken over by the next run
            assert sha256_of(path) not in old_files, (outcome, path)  # nothing of the older run
            _check_loadable(path)


def test_continue_after_each_kill_finishes_with_at_most_one_epoch_repeated(kill_loop):
    workdir, manifest = kill_loop
    finished = refused_early = continued = 0
    for outcome in manifest["outcomes"]:
        point = outcome["point"]
        out = workdir / "runs" / str(point)
        trained = _epochs(workdir / "epochs" / f"{point}.run")
        again = _epochs(workdir / "epochs" / f"{point}.continue")
        report_path = out / "report.json"
        if outcome["continued"] == 2:
            after = workdir / "after" / str(point)
            if (after / "report.json").exists():  # the kill came after the final report
                report = json.loads((after / "report.json").read_text())
                assert report["stopped_reason"] == "completed"
                finished += 1
            else:  # killed before the first recovery point existed: no epoch trained
                assert trained == [], outcome
                refused_early += 1
            continue
        assert outcome["continued"] == 0, outcome
        continued += 1
        report = json.loads(report_path.read_text())
        assert report["stopped_reason"] == "completed", outcome
        assert [row["epoch"] for row in report["history"]] == list(range(1, EPOCHS + 1))
        assert len(set(trained) & set(again)) <= 1, (outcome, trained, again)
        assert sorted(set(trained) | set(again)) == list(range(1, EPOCHS + 1)), outcome
        rows = list(csv.DictReader((out / "history.csv").read_text().splitlines()))
        assert [int(r["epoch"]) for r in rows] == list(range(EPOCHS))
        assert not (out / ".continue").exists()
        assert not (out / LOCK_NAME).exists()
        assert not [p for p in out.iterdir() if p.name.startswith(TEMP_PREFIX)]
        saved = torch.load(out / "checkpoint.pt", weights_only=True)
        assert saved["model_state_dict"]
    assert continued >= 12, (continued, finished, refused_early)
    assert finished >= 1
    assert refused_early >= 1
