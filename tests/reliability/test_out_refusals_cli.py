"""Through the CLI: an --out that is not this run's to write is exit 2, one line, nothing touched.

Every refusal here comes before any framework is imported, so these run in milliseconds; the
moving aside with --overwrite and the recovery point are covered in tests/core/test_out_safety.py
and tests/reliability/test_kill_loop.py.
"""

from __future__ import annotations

from pathlib import Path

from plateau_cli.out_lock import out_lock
from plateau_cli.outputs import sha256_of
from tests.e2e.runner import run_cli
from tests.reliability.conftest import MLP_FACTORY


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256_of(p) for p in folder.rglob("*") if p.is_file()}


def _resume(model: Path, digits: Path, out: Path, *extra: str) -> list[str]:
    return ["resume", str(model), "--model-factory", MLP_FACTORY, "--strategy", "lr-decay",
            "--data", str(digits), "--epochs", "1", "--out", str(out), "-q", *extra]  # fmt: skip


def _one_line(result) -> str:
    assert result.code == 2, (result.code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_out_holding_another_runs_report_is_refused(tmp_path, digits, torch_checkpoint):
    model = torch_checkpoint
    out = tmp_path / "run"
    out.mkdir()
    (out / "report.md").write_text("# an earlier run\n")
    (out / "curves.png").write_bytes(b"\x89PNG earlier")
    (out / ".continue").mkdir()
    (out / ".continue" / "checkpoint.pt").write_bytes(b"earlier")
    before = _tree(out)
    line = _one_line(run_cli(_resume(model, digits, out)))
    assert "holds another run's report.md, curves.png, .continue" in line
    assert "--overwrite" in line
    assert _tree(out) == before


def test_trial_into_another_trial_is_refused(tmp_path, digits, torch_checkpoint):
    model = torch_checkpoint
    out = tmp_path / "race"
    (out / "candidates" / "control").mkdir(parents=True)
    (out / "trial.json").write_text("{}")
    before = _tree(out)
    args = ["trial", str(model), "--data", str(digits), "--model-factory", MLP_FACTORY,
            "--out", str(out), "--quiet"]  # fmt: skip
    line = _one_line(run_cli(args))
    assert "holds another run's trial.json, candidates" in line
    assert _tree(out) == before


def test_log_named_like_an_artefact_in_out_is_refused_even_with_overwrite(
    tmp_path, digits, torch_checkpoint
):
    model = torch_checkpoint
    out = tmp_path / "run"
    out.mkdir()
    log = out / "history.csv"
    log.write_text("epoch,loss,val_loss\n0,1.0,1.1\n1,0.9,1.0\n")
    before = log.read_bytes()
    args = ["resume", str(model), "--model-factory", MLP_FACTORY, "--strategy", "auto",
            "--log", str(log), "--data", str(digits), "--out", str(out), "--overwrite"]  # fmt: skip
    line = _one_line(run_cli(args))
    assert "would write history.csv over the input" in line
    assert log.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["history.csv"]


def test_second_resume_into_a_locked_out_is_refused(tmp_path, digits, torch_checkpoint):
    model = torch_checkpoint
    out = tmp_path / "run"
    with out_lock(out):
        before = _tree(out)
        line = _one_line(run_cli(_resume(model, digits, out)))
        assert "another plateau-cli run (pid" in line
        assert _tree(out) == before
        line = _one_line(run_cli(["resume", "--continue", str(out)]))
        assert "another plateau-cli run (pid" in line


def test_continue_does_not_take_overwrite(tmp_path):
    line = _one_line(run_cli(["resume", "--continue", str(tmp_path), "--overwrite"]))
    assert "drop --overwrite" in line
