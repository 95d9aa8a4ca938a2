"""--plot FILE.png: a PNG with the findings marked, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plateau_cli.diagnose.plot import write_plot
from plateau_cli.errors import OutputError, UsageError
from tests.diagnose.diagnose_cases import nan_divergence, oscillating, overfitting, result

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("build", [overfitting, nan_divergence, oscillating])
def test_png_is_written(tmp_path: Path, build: object) -> None:
    target = tmp_path / "curves.png"
    write_plot(target, result(build()))  # type: ignore[operator]
    data = target.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]  # no temporary left behind


def test_a_name_not_ending_png_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"\.png"):
        write_plot(tmp_path / "curves.jpg", result(overfitting()))
    assert not (tmp_path / "curves.jpg").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only directories")
def test_an_unwritable_directory_is_an_output_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="cannot write"):
            write_plot(locked / "curves.png", result(overfitting()))
    finally:
        locked.chmod(0o700)


def test_a_path_under_a_file_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        write_plot(blocker / "curves.png", result(overfitting()))
