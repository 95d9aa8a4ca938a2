"""Multi-member decompression bombs: refused from the zip directory, no temporary file left.

Each payload has 8 members of 250 MB zeros (2 GB in a ~2 MB file); every member alone is
under the per-member limit, so only the bound on the total refuses it. The process is pointed
at its own empty temporary directory, which must still be empty afterwards.
"""

from __future__ import annotations

import tempfile

import pytest

from tests.e2e.runner import run_cli
from tests.security.bomb_payloads import MEMBER_BYTES, keras_bomb, npz_bomb, torch_bomb
from tests.security.refusals import assert_refused


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    directory = tmp_path / "TMPDIR"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def test_each_member_is_under_the_per_member_limit():
    from plateau_cli.zips import BOMB_FLOOR_BYTES

    assert MEMBER_BYTES < BOMB_FLOOR_BYTES


@pytest.mark.parametrize("builder", [keras_bomb, torch_bomb], ids=["keras", "torch"])
@pytest.mark.parametrize("command", ["inspect", "resume"])
def test_a_checkpoint_bomb_is_refused(builder, command, tmp_path, private_tmp, digits):
    path = builder(tmp_path / ("bomb.keras" if builder is keras_bomb else "bomb.pt"))
    assert path.stat().st_size < 3_000_000
    argv = ["inspect", str(path)]
    if command == "resume":
        argv = ["resume", str(path), "--strategy", "lr-decay", "--data", str(digits),
                "--out", str(tmp_path / "out")]  # fmt: skip
    assert_refused(run_cli(argv), "2,000,000", "decompression bomb")
    assert list(private_tmp.iterdir()) == []
    assert not (tmp_path / "out").exists()


@pytest.mark.torch
def test_a_data_bomb_is_refused(tmp_path, private_tmp, torch_checkpoint, mlp_factory):
    path = npz_bomb(tmp_path / "bomb.npz")
    result = run_cli(["resume", str(torch_checkpoint), "--model-factory", mlp_factory,
                      "--strategy", "lr-decay", "--data", str(path),
                      "--out", str(tmp_path / "out")])  # fmt: skip
    assert_refused(result, "2,000,001,024 bytes in all", "not training data")
    assert list(private_tmp.iterdir()) == []


@pytest.fixture
def mlp_factory() -> str:
    from tests.reliability.conftest import MLP_FACTORY

    return MLP_FACTORY


def test_the_total_bound_does_not_touch_real_archives(digits, torch_checkpoint):
    """Stored archives (ratio 1) and a real npz are far from the bound."""
    import zipfile

    from plateau_cli.zips import bomb_reason

    for path in (digits, torch_checkpoint):
        with zipfile.ZipFile(path) as archive:
            assert bomb_reason(archive.infolist(), path.stat().st_size) is None
