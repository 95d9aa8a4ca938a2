"""README.md tells the truth: its examples are the tool's real output, and CI runs its tests."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _code_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", README, re.DOTALL)


def test_readme_opens_with_the_two_commands():
    setup, tests = _code_blocks()[:2]
    assert "pip install" in setup
    assert "plateau-cli resume sample_models/" in setup
    assert "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command():
    tests = _code_blocks()[1].strip()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in ci, f"{tests!r} is not a line of .ci/run"


def test_every_sample_path_in_the_readme_exists():
    for path in set(re.findall(r"sample_models/[\w/.\-]+\.\w+", README)):
        assert (ROOT / path).exists(), path


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.torch
def test_examples_have_not_drifted():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "readme_examples.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, (
        proc.stdout + proc.stderr + ("\nregenerate with: python scripts/readme_examples.py")
    )
