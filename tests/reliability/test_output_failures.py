"""A full disk and an unwritable output end with exit 2, one clear line, and the input intact.

Two ways each. Portable ones run everywhere: the failure is injected where the operating system
would report it (`tempfile.mkstemp`, `os.fsync`, `os.replace`, `mkdir` raising ENOSPC / EROFS /
EACCES). Real ones need root and `mount` (skipped elsewhere): a tiny tmpfs that fills up in the
middle of the save (where torch.save reports it as a RuntimeError from C++, see atomic.py) and a
read-only bind mount (which stops root too, unlike chmod).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from plateau_cli.atomic import TEMP_PREFIX
from plateau_cli.outputs import sha256_of
from tests.e2e.runner import CliResult, run_cli
from tests.reliability.conftest import MLP_FACTORY

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")


def resume_torch(checkpoint: Path, data: Path, out: Path) -> CliResult:
    return run_cli(
        ["resume", str(checkpoint), "--model-factory", MLP_FACTORY, "--strategy", "lr-decay",
         "--data", str(data), "--epochs", "1", "--out", str(out), "--quiet"]
    )  # fmt: skip


def one_error_line(result: CliResult) -> str:
    assert result.code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def assert_no_half_files(out: Path) -> None:
    """Only complete files: no temporaries, and no report.json unless the set is complete."""
    if not out.exists():
        return
    names = {p.name for p in out.iterdir()}
    assert not [n for n in names if n.startswith(TEMP_PREFIX)], names
    assert "report.json" not in names, names
    if "checkpoint.pt" in names:
        state = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
        assert "model_state_dict" in state


@pytest.fixture
def private_input(torch_checkpoint, tmp_path) -> tuple[Path, str, set[str]]:
    """A copy of the checkpoint in a directory of its own, its sha256 and the directory listing."""
    directory = tmp_path / "input"
    directory.mkdir()
    checkpoint = directory / "checkpoint.pt"
    shutil.copyfile(torch_checkpoint, checkpoint)
    return checkpoint, sha256_of(checkpoint), {p.name for p in directory.iterdir()}


def assert_input_intact(private_input) -> None:
    checkpoint, sha, listing = private_input
    assert sha256_of(checkpoint) == sha
    assert {p.name for p in checkpoint.parent.iterdir()} == listing


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# -- portable: the operating system's error injected where it would arise -----------------------


@pytest.mark.parametrize(
    ("where", "target"),
    [
        ("creating the temporary file", "tempfile.mkstemp"),
        ("flushing the data to disk", "os.fsync"),
        ("renaming it into place", "os.replace"),
    ],
)
def test_full_disk_is_exit_2_with_one_line(where, target, private_input, digits, tmp_path,
                                           monkeypatch):  # fmt: skip
    module, name = target.split(".")
    monkeypatch.setattr({"tempfile": tempfile, "os": os}[module], name, _enospc)
    out = tmp_path / "out"
    result = resume_torch(private_input[0], digits, out)
    line = one_error_line(result)
    assert "no space left on device" in line, line
    assert "checkpoint.pt" in line
    assert not out.exists(), "a directory this run made, left empty, is removed"
    assert_input_intact(private_input)


def test_disk_full_reported_by_a_framework_as_runtime_error(private_input, digits, tmp_path,
                                                            monkeypatch):  # fmt: skip
    """torch.save says "basic_ios::clear: iostream error" when the disk fills (measured)."""
    from plateau_cli.adapters.torch import saving

    def torch_save_on_a_full_disk(obj, path):
        Path(path).write_bytes(b"PK\x03\x04 half an archive")
        raise RuntimeError("basic_ios::clear: iostream error")

    class Full:
        f_bavail, f_frsize = 0, 4096

    monkeypatch.setattr(saving.torch, "save", torch_save_on_a_full_disk)
    monkeypatch.setattr(os, "statvfs", lambda path: Full())
    out = tmp_path / "out"
    line = one_error_line(resume_torch(private_input[0], digits, out))
    assert "no space left on device" in line, line
    assert "iostream error" in line, line
    assert not out.exists()
    assert_input_intact(private_input)


def test_a_writer_bug_with_free_space_stays_a_bug(private_input, digits, tmp_path, monkeypatch):
    """Only a full file system turns a writer's exception into exit 2; otherwise it is ours."""
    from plateau_cli.adapters.torch import saving

    def broken_save(obj, path):
        raise RuntimeError("a bug in the writer")

    monkeypatch.setattr(saving.torch, "save", broken_save)
    result = resume_torch(private_input[0], digits, tmp_path / "out")
    assert result.code == 70, result.stderr
    assert "a bug in the writer" in result.stderr
    assert not list((tmp_path / "out").glob(f"{TEMP_PREFIX}*"))


def test_full_disk_after_the_checkpoint_says_what_was_written(private_input, digits, tmp_path,
                                                              monkeypatch):  # fmt: skip
    real_replace = os.replace

    def replace(source, target):
        if Path(target).name == "history.csv":  # the disk fills after the checkpoint
            _enospc()
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    out = tmp_path / "out"
    line = one_error_line(resume_torch(private_input[0], digits, out))
    assert "cannot write" in line, line
    assert "history.csv: no space left on device" in line, line
    assert "checkpoint.pt" in line, line
    assert "no report.json" in line, line
    # Beside the checkpoint: history.csv (one row appended per epoch) and the recovery point
    # that `resume --continue` finishes the run from once there is space again.
    assert sorted(p.name for p in out.iterdir()) == [".continue", "checkpoint.pt", "history.csv"]
    assert_no_half_files(out)
    assert_input_intact(private_input)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_output_directory_that_cannot_be_created(code, private_input, digits, tmp_path,
                                                 monkeypatch):  # fmt: skip
    """The directory became read-only between the check before training and the writing."""
    real_mkdir = Path.mkdir

    def refuse(self, *args, **kwargs):
        if self.name == "out":
            raise OSError(code, os.strerror(code))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    line = one_error_line(resume_torch(private_input[0], digits, tmp_path / "out"))
    assert "cannot create" in line, line
    assert os.strerror(code) in line, line
    assert not (tmp_path / "out").exists()
    assert_input_intact(private_input)


def test_out_below_a_file_fails_before_training(private_input, digits, tmp_path):
    blocker = tmp_path / "results.txt"
    blocker.write_text("not a directory\n")
    result = resume_torch(private_input[0], digits, blocker / "run")
    line = one_error_line(result)
    assert "results.txt is a file" in line, line
    assert blocker.read_text() == "not a directory\n"
    assert_input_intact(private_input)


# -- real: a tmpfs that fills up, a read-only bind mount ----------------------------------------


def _mount(*args: str) -> bool:
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


@pytest.fixture
def mount_point(tmp_path):
    point = tmp_path / "mnt"
    point.mkdir()
    mounted: list[Path] = []
    yield point, mounted
    for path in reversed(mounted):
        subprocess.run(["umount", str(path)], capture_output=True, check=False)


@pytest.mark.parametrize("size", ["4k", "12k", "40k"])
def test_real_full_tmpfs(size, mount_point, private_input, digits):
    point, mounted = mount_point
    if not _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)):
        pytest.skip("needs root and mount (a tmpfs of a few KiB)")
    mounted.append(point)
    out = point / "out"
    line = one_error_line(resume_torch(private_input[0], digits, out))
    assert "no space left on device" in line, line
    assert_no_half_files(out)
    assert_input_intact(private_input)


def test_real_read_only_mount_fails_before_training(mount_point, private_input, digits):
    point, mounted = mount_point
    if not _mount("--bind", str(point), str(point)):
        pytest.skip("needs root and mount --bind")
    mounted.append(point)
    if not _mount("-o", "remount,ro,bind", str(point)):
        pytest.skip("cannot remount read-only here")
    line = one_error_line(resume_torch(private_input[0], digits, point / "out"))
    assert "not writable" in line, line
    assert "read-only" in line, line
    assert list(point.iterdir()) == []
    assert_input_intact(private_input)


@pytest.mark.slow
@pytest.mark.keras
def test_real_full_tmpfs_keras(mount_point, tmp_path, digits):
    pytest.importorskip("keras")
    from tests.e2e.keras_plateau import stalled_keras_model

    point, mounted = mount_point
    if not _mount("-t", "tmpfs", "-o", "size=16k", "tmpfs", str(point)):
        pytest.skip("needs root and mount (a tmpfs of a few KiB)")
    mounted.append(point)
    (tmp_path / "input").mkdir()
    model = stalled_keras_model(tmp_path / "input" / "model.keras", digits, epochs=1)
    sha = sha256_of(model)
    result = run_cli(["resume", str(model), "--strategy", "lr-decay", "--data", str(digits),
                      "--epochs", "1", "--out", str(point / "out"), "--quiet"])  # fmt: skip
    line = one_error_line(result)
    assert "no space left on device" in line, line
    assert sha256_of(model) == sha
    assert sorted(p.name for p in model.parent.iterdir()) == ["model.keras"]
    out = point / "out"
    assert not out.exists() or not [p for p in out.iterdir() if p.name != "history.csv"]
