"""Bad inputs that used to crash (exit 70), hang or mislead: each is exit 2 and one line now."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

from tests.e2e.runner import run_cli
from tests.reliability.conftest import MLP_FACTORY
from tests.security.entry_point_payloads import BODIES, write_exiting
from tests.security.npz_payloads import huge_claim, uint64_labels
from tests.security.refusals import assert_refused

pytestmark = pytest.mark.torch


def _resume(model, data, out, *extra):
    return ["resume", str(model), "--model-factory", MLP_FACTORY, "--strategy", "lr-decay",
            "--data", str(data), "--out", str(out), "--epochs", "1", *extra]  # fmt: skip


def test_an_npz_header_claiming_512_tb_is_refused_before_allocating(tmp_path, torch_checkpoint):
    path = huge_claim(tmp_path / "huge.npz")
    result = run_cli(_resume(torch_checkpoint, path, tmp_path / "out"))
    assert_refused(result, "x_train", "(1000000000000, 64)", "refusing to allocate")


def test_uint64_labels_past_int64_are_refused_not_wrapped(tmp_path, torch_checkpoint, digits):
    arrays = np.load(digits)
    path = uint64_labels(tmp_path / "u64.npz", arrays["x_train"], arrays["y_train"])
    result = run_cli(_resume(torch_checkpoint, path, tmp_path / "out"))
    assert_refused(result, "uint64 labels up to 9,223,372,036,854,775,813")


def test_small_uint64_labels_still_work(tmp_path, digits):
    from plateau_cli.data.arrays import as_labels

    labels = as_labels(np.array([0, 3, 9], dtype=np.uint64), "d.npz", "y")
    assert labels.dtype == np.int64
    assert labels.tolist() == [0, 3, 9]


def test_a_bit_flipped_archive_is_damaged_not_unsafe(tmp_path, torch_checkpoint):
    data = bytearray(torch_checkpoint.read_bytes())
    with zipfile.ZipFile(torch_checkpoint) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("/data.pkl"))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 300] ^= 0x10  # a flipped bit inside the pickle
    path = tmp_path / "flipped.pt"
    path.write_bytes(bytes(data))
    line = assert_refused(run_cli(["inspect", str(path), "--model-factory", MLP_FACTORY]),
                          "damaged", "CRC")  # fmt: skip
    assert "safe loader" not in line
    assert "--trust-pickle" not in line


@pytest.mark.parametrize("command", ["diagnose", "inspect", "resume --log"])
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_a_fifo_or_device_is_refused_at_once(command, kind, tmp_path, torch_checkpoint, digits):
    if kind == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)
    else:
        target = "/dev/zero"
    argv = {
        "diagnose": ["diagnose", str(target)],
        "inspect": ["inspect", str(target)],
        "resume --log": ["resume", str(torch_checkpoint), "--model-factory", MLP_FACTORY,
                         "--strategy", "auto", "--data", str(digits), "--log", str(target),
                         "--out", str(tmp_path / "out")],
    }[command]  # fmt: skip
    assert_refused(run_cli(argv), "not a regular file")


@pytest.mark.parametrize("kind", list(BODIES))
@pytest.mark.parametrize("where", ["--data", "--model-factory"])
@pytest.mark.parametrize("at_import", [False, True], ids=["called", "imported"])
def test_an_entry_point_that_exits_is_exit_2_naming_it(kind, where, at_import, tmp_path,
                                                       torch_checkpoint, digits):  # fmt: skip
    module = write_exiting(tmp_path, kind, at_import=at_import)
    spec = f"{module}:{'load' if where == '--data' else 'build'}"
    args = ["resume", str(torch_checkpoint), "--strategy", "lr-decay", "--out", str(tmp_path / "o")]
    if where == "--data":
        args += ["--data", spec, "--model-factory", MLP_FACTORY]
    else:
        args += ["--data", str(digits), "--model-factory", spec]
    line = assert_refused(run_cli(args), where, module.name)
    if kind == "sys.exit(3)" and not at_import:
        assert "sys.exit(3)" in line
