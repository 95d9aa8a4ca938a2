"""`resume --continue DIR` runs no code that DIR/report.json names and reads nothing outside DIR.

Every payload starts from a real interrupted run and edits only its report.json (and adds files
inside DIR), which is all that someone handing over an output directory controls. Each must be
refused with one line before anything runs: the marker never appears and DIR is unchanged.
The last tests are the controls: named again on the command line, the same run continues.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.e2e.runner import run_cli
from tests.security import continue_payloads as payloads
from tests.security.refusals import assert_refused

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, torch_checkpoint, digits, mlp_factory) -> Path:
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("continue") / "run"
    return payloads.interrupted_run(out, torch_checkpoint, digits, mlp_factory)


@pytest.fixture(scope="module")
def mlp_factory() -> str:
    from tests.reliability.conftest import MLP_FACTORY

    return MLP_FACTORY


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): "dir"
        if p.is_dir()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def _refused(directory: Path, *needles: str, extra: tuple[str, ...] = ()) -> str:
    before = tree(directory)
    result = run_cli(["resume", "--continue", str(directory), *extra])
    line = assert_refused(result, *needles)
    assert tree(directory) == before
    return line


def test_the_report_s_factory_is_not_run_unless_named_again(interrupted, tmp_path, mlp_factory):
    run = payloads.edited(interrupted, tmp_path / "run", lambda doc, _: None)
    line = _refused(run, "--model-factory", "pass it again", "plateau-cli resume --continue")
    assert mlp_factory in line


def test_subprocess_getoutput_as_factory_never_runs(interrupted, tmp_path):
    marker = tmp_path / "MARKER"
    run = payloads.edited(interrupted, tmp_path / "run", payloads.names_shell_factory(marker))
    line = _refused(run, "subprocess:getoutput", "--factory-arg")
    assert f"touch {marker}" in line  # the argument is shown, so the user sees what it does
    assert not marker.exists()


def test_a_factory_file_inside_dir_is_not_imported(interrupted, tmp_path):
    marker = tmp_path / "MARKER"
    run = payloads.edited(interrupted, tmp_path / "run", payloads.factory_file_inside(marker))
    _refused(run, "nets.py:build")
    assert not marker.exists()


def test_a_data_function_inside_dir_is_not_imported(interrupted, tmp_path, mlp_factory):
    marker = tmp_path / "MARKER"
    run = payloads.edited(interrupted, tmp_path / "run", payloads.data_function_inside(marker))
    # Even with the factory named again, the data function is not: refused, nothing imported.
    line = _refused(run, "--data", "data.py:load", extra=("--model-factory", mlp_factory))
    assert "--model-factory" not in line.split("pass it again")[1]
    assert not marker.exists()


@pytest.mark.parametrize(
    "name",
    ["../../x.pt", "/etc/passwd", ".continue/../../outside.pt"],
    ids=["dotdot", "abs", "mixed"],
)
def test_a_checkpoint_outside_dir_is_not_followed(name, interrupted, tmp_path, mlp_factory):
    run = payloads.edited(interrupted, tmp_path / "run", payloads.checkpoint_at(name))
    _refused(run, "outside the directory", extra=("--model-factory", mlp_factory))


def test_a_symlink_leading_out_of_dir_is_not_followed(interrupted, tmp_path, torch_checkpoint,
                                                      mlp_factory):  # fmt: skip
    edit = payloads.checkpoint_symlink_to(torch_checkpoint)
    run = payloads.edited(interrupted, tmp_path / "run", edit)
    _refused(run, "outside the directory", extra=("--model-factory", mlp_factory))


DAMAGED = {
    "history not a list": ("history", {"epoch": 1}, "'history' is a JSON object"),
    "history row without epoch": ("history", [{"loss": 1.0}], "'history'"),
    "no trainer block": ("continuation.trainer", ..., "'continuation.trainer' is missing"),
    "epochs as text": ("continuation.request.epochs", "4", "'continuation.request.epochs'"),
    "wait as float": ("continuation.trainer.wait", 1.5, "an integer"),
    "monitor missing": ("monitor", ..., "'monitor' is missing"),
    "unknown mode": ("monitor.mode", "sideways", "'monitor.mode' is 'sideways'"),
    "optimizer state unknown": ("optimizer.loaded_state", "lost", "'optimizer.loaded_state'"),
    "health not rows": ("health", ["x"], "'health'"),
    "checkpoint a number": ("continuation.checkpoint", 7, "'continuation.checkpoint'"),
    "image size of 3": ("continuation.request.image_size", [1, 2, 3], "image_size"),
    "zero batch size": ("continuation.request.batch_size", 0, "at least 1"),
}


@pytest.mark.parametrize("case", list(DAMAGED))
def test_a_damaged_report_is_one_line_naming_the_field(case, interrupted, tmp_path, mlp_factory):
    dotted, value, needle = DAMAGED[case]
    run = payloads.edited(interrupted, tmp_path / "run", payloads.damaged(dotted, value))
    _refused(run, "damaged report", needle, extra=("--model-factory", mlp_factory))


def test_named_again_the_run_continues(interrupted, tmp_path, mlp_factory):
    run = payloads.edited(interrupted, tmp_path / "run", lambda doc, _: None)
    result = run_cli(["resume", "--continue", str(run), "--model-factory", mlp_factory, "--json"])
    assert result.code == 0, result.stderr
    done = json.loads(result.stdout)
    assert [row["epoch"] for row in done["history"]] == [1, 2, 3]
    assert done["stopped_reason"] == "completed"


def test_the_data_file_read_from_the_report_is_said(interrupted, tmp_path, mlp_factory, digits):
    run = payloads.edited(interrupted, tmp_path / "run", lambda doc, _: None)
    result = run_cli(["resume", "--continue", str(run), "--model-factory", mlp_factory])
    assert result.code == 0, result.stderr
    assert f"data: {digits} (as recorded in {run}/report.json" in result.stderr.replace("\n", "")
