"""The user's files are never lost: another run's --out, inputs inside --out, the lock, and the
per-epoch recovery point (history.csv growing while the run goes, --continue after a death).

On the numpy test double (tests/fakes.py), so every test runs in well under a second; the kill
loop in tests/reliability/test_kill_loop.py does the same with real SIGKILLs and torch.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from plateau_cli.errors import ExitStatus, UsageError
from plateau_cli.observer import NullObserver
from plateau_cli.out_claim import LOCK_NAME, PREVIOUS_PREFIX, check_claim, input_paths
from plateau_cli.out_lock import holder_pid, out_lock
from plateau_cli.outputs import sha256_of
from plateau_cli.run import recovery
from plateau_cli.run.recovery import RECOVERY_DIR
from plateau_cli.run.resume import ResumeRequest, run_resume
from plateau_cli.run.resume_continue import continue_resume
from tests.core.test_resume_pipeline import model_and_data, numpy_framework  # noqa: F401
from tests.fakes import blobs


def _request(model: Path, data: Path | str, out: Path, **kwargs) -> ResumeRequest:
    return ResumeRequest(
        model=model, strategy="lr-decay", data=str(data), out=out, patience=None, **kwargs
    )


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): sha256_of(p) for p in sorted(folder.rglob("*")) if p.is_file()
    }


# -- another run's --out ------------------------------------------------------------------------
def test_out_holding_another_run_is_refused_and_left_untouched(
    numpy_framework,  # noqa: F811
    model_and_data,  # noqa: F811
    tmp_path,
):
    model, data = model_and_data
    out = tmp_path / "run"
    run_resume(_request(model, data, out, epochs=2))
    before = _tree(out)
    with pytest.raises(UsageError, match=r"holds another run's report\.json") as caught:
        run_resume(_request(model, data, out, epochs=3))
    assert caught.value.exit_status is ExitStatus.BAD_INPUT
    assert "--overwrite" in caught.value.message
    assert "\n" not in caught.value.message
    assert _tree(out) == before  # nothing written, nothing removed, no lock left


def test_overwrite_moves_the_old_run_aside_whole(numpy_framework, model_and_data, tmp_path):  # noqa: F811
    model, data = model_and_data
    out = tmp_path / "run"
    run_resume(_request(model, data, out, epochs=2))
    old = _tree(out)
    report = run_resume(_request(model, data, out, epochs=3, overwrite=True))
    previous = [p for p in out.iterdir() if p.name.startswith(PREVIOUS_PREFIX)]
    assert len(previous) == 1
    assert _tree(previous[0]) == old  # every file of the old run, byte for byte
    doc = json.loads((out / "report.json").read_text())
    assert doc["epochs_run"] == 3
    assert doc["output"]["sha256"] == sha256_of(out / "model.npz")
    assert any("moved to" in note for note in doc["notes"])
    assert report.out_dir == out
    assert not (out / LOCK_NAME).exists()
    assert not (out / ".continue").exists()


def test_input_named_like_an_artefact_is_never_replaced(numpy_framework, model_and_data, tmp_path):  # noqa: F811
    """A CSV training set called history.csv inside --out: refused even with --overwrite."""
    model = tmp_path / "models" / "start.npz"
    model.parent.mkdir()
    rng = np.random.default_rng(1)
    np.savez(model, w=rng.normal(0, 0.01, (8, 3)), b=np.zeros(3))
    out = tmp_path / "run"
    out.mkdir()
    bundle = blobs()
    table = out / "history.csv"
    with open(table, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*(f"f{i}" for i in range(8)), "label"])
        for x, y in zip(bundle.train.x, bundle.train.y, strict=True):
            writer.writerow([*x.tolist(), int(y)])
    before = table.read_bytes()
    for overwrite in (False, True):
        request = _request(
            model, table, out, epochs=1, target="label", val_split=0.2, overwrite=overwrite
        )
        with pytest.raises(UsageError, match="over the input"):
            run_resume(request)
    assert table.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["history.csv"]


def test_model_inside_out_needs_overwrite_and_stays(numpy_framework, model_and_data, tmp_path):  # noqa: F811
    model, data = model_and_data
    out = tmp_path / "run"
    out.mkdir()
    start = out / "start.npz"
    start.write_bytes(model.read_bytes())
    with pytest.raises(UsageError, match="holds the input"):
        run_resume(_request(start, data, out, epochs=1))
    run_resume(_request(start, data, out, epochs=1, overwrite=True))
    assert start.read_bytes() == model.read_bytes()
    assert (out / "report.json").is_file()


def test_input_paths_takes_the_file_of_an_entry_point(tmp_path):
    script = tmp_path / "make.py"
    script.write_text("def data(): ...\n")
    assert input_paths(f"{script}:data", None, tmp_path / "missing") == (script.resolve(),)


def test_out_that_is_the_data_folder_is_refused(tmp_path):
    with pytest.raises(UsageError, match="is the input"):
        check_claim(tmp_path, (tmp_path.resolve(),), overwrite=True)


# -- the lock ------------------------------------------------------------------------------------
def test_second_run_into_a_locked_out_is_refused(numpy_framework, model_and_data, tmp_path):  # noqa: F811
    model, data = model_and_data
    out = tmp_path / "run"
    with out_lock(out):
        assert holder_pid(out) is not None
        with pytest.raises(UsageError, match=rf"another plateau-cli run \(pid {holder_pid(out)}\)"):
            run_resume(_request(model, data, out, epochs=1))
        assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]
    assert not out.exists()  # made only for the lock, removed with it


def test_lock_held_by_another_process_names_its_pid(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from plateau_cli.out_lock import out_lock\n"
         "with out_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)",
         str(out)],
        stdout=subprocess.PIPE, text=True,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with (
            pytest.raises(UsageError, match=rf"\(pid {holder.pid}\) is writing there"),
            out_lock(out),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    with out_lock(out):  # the holder died without releasing it: the lock is free
        assert holder_pid(out) is not None
        assert holder_pid(out) != holder.pid


def test_stale_lock_file_of_a_dead_run_is_taken_over(numpy_framework, model_and_data, tmp_path):  # noqa: F811
    model, data = model_and_data
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_NAME).write_text("999999999\n")  # a pid that cannot be running
    report = run_resume(_request(model, data, out, epochs=1))
    assert len(report.history) == 1
    assert not (out / LOCK_NAME).exists()


# -- the recovery point ---------------------------------------------------------------------------
class _Peek(NullObserver):
    """Reads history.csv and the recovery report at the start of every epoch."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.rows: dict[int, list[str]] = {}
        self.recovered: dict[int, int] = {}

    def on_epoch_begin(self, epoch: int, lr: float | None) -> None:
        path = self.out / "history.csv"
        with open(path, newline="") if path.exists() else open("/dev/null") as fh:
            self.rows[epoch] = [row["epoch"] for row in csv.DictReader(fh)]
        doc = json.loads((self.out / RECOVERY_DIR / "report.json").read_text())
        self.recovered[epoch] = doc["epochs_run"]


def test_history_grows_by_one_row_per_finished_epoch_while_running(
    numpy_framework,  # noqa: F811
    model_and_data,  # noqa: F811
    tmp_path,
):
    model, data = model_and_data
    out = tmp_path / "run"
    peek = _Peek(out)
    run_resume(_request(model, data, out, epochs=4), peek)
    assert peek.rows == {1: [], 2: ["0"], 3: ["0", "1"], 4: ["0", "1", "2"]}
    assert peek.recovered == {1: 0, 2: 1, 3: 2, 4: 3}
    with open(out / "history.csv", newline="") as fh:
        assert [row["epoch"] for row in csv.DictReader(fh)] == ["0", "1", "2", "3"]


class _Died(BaseException):
    """Stands for SIGKILL: nothing after it runs but `finally` blocks."""


def test_continue_after_a_death_repeats_no_saved_epoch(
    numpy_framework,  # noqa: F811
    model_and_data,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    model, data = model_and_data
    out = tmp_path / "run"
    original = recovery.RecoveryPoints.after_epoch

    def die_after_two(self, trainer, epoch):
        original(self, trainer, epoch)
        if epoch == 2:
            raise _Died

    monkeypatch.setattr(recovery.RecoveryPoints, "after_epoch", die_after_two)
    with pytest.raises(_Died):
        run_resume(_request(model, data, out, epochs=4))
    assert not (out / "report.json").exists()
    points = sorted(p.name for p in (out / RECOVERY_DIR).iterdir())
    assert "epoch-0002" in points
    assert "report.json" in points
    monkeypatch.setattr(recovery.RecoveryPoints, "after_epoch", original)
    report = continue_resume(out)
    assert [r.epoch for r in report.history] == [1, 2, 3, 4]
    assert any(e.startswith("continued after epoch 2 of 4") for e in report.events)
    with open(out / "history.csv", newline="") as fh:
        assert [row["epoch"] for row in csv.DictReader(fh)] == ["0", "1", "2", "3"]
    assert not (out / ".continue").exists()
    uninterrupted = run_resume(_request(model, data, tmp_path / "whole", epochs=4))
    # The first two epochs are the same run's; the best weights chosen over all four.
    assert [r.metrics for r in report.history[:2]] == [r.metrics for r in uninterrupted.history[:2]]


def test_out_inside_a_directory_checkpoint_is_refused(tmp_path: Path) -> None:
    """A BackupAndRestore backup_dir or a checkpoint-N/ is the input: nothing is written in it."""
    from plateau_cli.outputs import check_out_dir

    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "latest.weights.h5").write_bytes(b"")
    with pytest.raises(UsageError, match="inside the input checkpoint directory") as caught:
        check_out_dir(backup / "resumed", backup)
    assert caught.value.exit_status == ExitStatus.BAD_INPUT
    check_out_dir(tmp_path / "backup-lr-decay", backup)  # beside it: fine
