"""TensorFlow's start-up chatter is filtered; everything else on stderr still gets through."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from plateau_cli.adapters.keras.runtime import _filtered_stderr, is_chatter, parse_version

pytestmark = pytest.mark.keras

CHATTER = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1795385214.786007    5120 port.cc:153] oneDNN custom operations are on. You may"
    " see slightly different numerical results\n"
)


def test_native_chatter_is_dropped_and_the_rest_replayed(capfd):
    with _filtered_stderr():
        os.write(2, CHATTER.encode())
        os.write(2, b"E0000 something real went wrong\n")
    err = capfd.readouterr().err
    assert err == "E0000 something real went wrong\n"


def test_chatter_markers():
    assert all(is_chatter(line) for line in CHATTER.splitlines())
    assert not is_chatter("ValueError: bad model")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("3.15.1", (3, 15, 1)), ("2.15.0-tf", (2, 15, 0)), ("3.1.0rc2", (3, 1, 0)), ("x", None)],
)
def test_parse_version(text, parsed):
    assert parse_version(text) == parsed


@pytest.mark.slow
def test_importing_the_adapter_is_quiet():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "import plateau_cli.adapters.keras.adapter; import sys; print('ok', file=sys.stderr)"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "ok\n"
