"""Ctrl-C while plateau-cli starts: exit 130 and no traceback, at any moment.

Start-up takes a noticeable time (typer and rich, then torch: seconds on a loaded machine),
and a SIGINT there used to print a page of import frames from before `cli.main` installs its
handlers. The child runs exactly what the `plateau-cli` script runs
(`from plateau_cli.__main__ import run; run()`), and says "ready" once `run` is imported:
before that (the interpreter's start-up and the import of that 40-line module, a few
milliseconds) a Ctrl-C is Python's own, with its traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.conftest import MLP_FACTORY

pytestmark = [pytest.mark.torch, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CHILD = (
    "import sys; from plateau_cli.__main__ import run; sys.stderr.write('ready\\n');"
    " sys.stderr.flush(); sys.argv[0] = 'plateau-cli'; run()"
)


# Not 0: the child's own two statements between "ready" and `run()` are Python's, like its start-up.
@pytest.mark.parametrize("delay", [0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5])
def test_ctrl_c_during_start_up_is_130_without_a_traceback(delay, torch_checkpoint):
    pytest.importorskip("torch")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    args = [sys.executable, "-c", CHILD, "inspect", str(torch_checkpoint), "--model-factory",
            MLP_FACTORY]  # fmt: skip
    child = subprocess.Popen(args, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stderr is not None
    assert child.stderr.readline() == b"ready\n"
    time.sleep(delay)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=120)
    text = err.decode("utf-8", "replace")
    if child.returncode == 0:  # finished before the signal: nothing to check at this delay
        return
    assert child.returncode == 130, text
    assert "Traceback" not in text, text
    assert text.strip() in ("", "interrupted"), text
