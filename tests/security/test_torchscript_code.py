"""TorchScript archives are code: nothing in one runs unless the user passes --trust-pickle.

The payloads write files from the scripted forward (`torch.from_file(..., shared=True)`); one
writes a `.pth` file into a directory the test treats as site-packages, which Python would run
at its next start. Without the flag each command refuses with one line and no file appears;
with it the same archive does write its file, so the payload is live and the refusal is what
kept it from running.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.runner import run_cli
from tests.security.refusals import assert_refused
from tests.security.torchscript_payloads import marker_archive, pth_archive

pytestmark = pytest.mark.torch


@pytest.fixture
def scripted(tmp_path):
    pytest.importorskip("torch")
    marker = tmp_path / "MARKER"
    return marker_archive(tmp_path / "scripted.pt", marker), marker


def _commands(model, data, out):
    return {
        "inspect": ["inspect", str(model)],
        "inspect --json --data": ["inspect", str(model), "--json", "--data", str(data)],
        "resume": ["resume", str(model), "--strategy", "lr-decay", "--data", str(data),
                   "--epochs", "1", "--out", str(out)],
        "trial": ["trial", str(model), "--data", str(data), "--strategies", "lr-decay",
                  "--budget-epochs", "1", "--out", str(out)],
    }  # fmt: skip


@pytest.mark.parametrize("command", ["inspect", "inspect --json --data", "resume", "trial"])
def test_a_torchscript_archive_is_refused_without_the_flag(command, scripted, digits, tmp_path):
    model, marker = scripted
    out = tmp_path / "out"
    result = run_cli(_commands(model, digits, out)[command])
    line = assert_refused(result, "TorchScript archive carries code", "--trust-pickle")
    assert "--trust-code" in line
    # What can be read without running anything is still said: 64 * 10 + 10 parameters.
    assert "650 parameters in 2 tensors (fc.weight (10, 64) float32" in line
    assert result.stdout == ""
    assert not marker.exists()
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--trust-pickle", "--trust-code"])
def test_with_the_flag_the_same_archive_runs_its_code(flag, scripted, digits, tmp_path):
    model, marker = scripted
    out = tmp_path / "out"
    result = run_cli(["resume", str(model), flag, "--strategy", "lr-decay", "--data",
                      str(digits), "--epochs", "1", "--out", str(out), "--json"])  # fmt: skip
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["input"]["format"] == "torchscript"
    assert marker.exists()  # the control: the payload is live


def test_a_pth_written_through_torchscript_never_appears_without_the_flag(digits, tmp_path):
    pytest.importorskip("torch")
    site = tmp_path / "site"
    site.mkdir()
    ran = tmp_path / "PTH_RAN"
    model = pth_archive(tmp_path / "scripted.pt", site, ran)
    out = tmp_path / "out"
    resume = ["resume", str(model), "--strategy", "lr-decay", "--data", str(digits),
              "--epochs", "1", "--out", str(out)]  # fmt: skip
    assert_refused(run_cli(resume), "TorchScript")
    assert list(site.iterdir()) == []

    # The control: trusted, the archive writes the .pth, and Python runs it at start-up.
    result = run_cli([*resume, "--trust-pickle", "--json"])
    assert result.code == 0, result.stderr
    pth = site / "plateau_payload.pth"
    assert pth.read_text().startswith("import pathlib")
    subprocess.run(
        [sys.executable, "-S", "-c", f"import site; site.addsitedir({str(site)!r})"], check=True
    )
    assert ran.read_text() == "ran"


def test_the_static_reader_lists_tensors_and_runs_nothing(scripted):
    from plateau_cli.adapters.torch.torchscript_static import read_script_summary

    model, marker = scripted
    summary = read_script_summary(model)
    assert summary is not None
    assert [(t.name, t.shape, t.dtype, t.parameter) for t in summary.tensors] == [
        ("fc.weight", (10, 64), "float32", True),
        ("fc.bias", (10,), "float32", True),
    ]
    assert not marker.exists()


def test_the_static_reader_refuses_any_other_global(tmp_path):
    """A data.pkl that names os.system is not a TorchScript module: None, and nothing runs."""
    import os
    import pickle
    import zipfile

    from plateau_cli.adapters.torch.torchscript_static import read_script_summary

    marker = tmp_path / "MARKER"

    class Shell:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps(Shell()))
        archive.writestr("evil/constants.pkl", pickle.dumps(()))
        archive.writestr("evil/code/__torch__.py", "")
    assert read_script_summary(path) is None
    assert not marker.exists()
    result = run_cli(["inspect", str(path)])
    assert_refused(result, "TorchScript archive carries code")
    assert not marker.exists()
