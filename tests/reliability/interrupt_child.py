"""`plateau-cli` with a checkpoint save that announces itself and takes two seconds.

    python -m tests.reliability.interrupt_child resume ... (the usual arguments)

Run by test_signals.py to deliver a second Ctrl-C (and a SIGTERM) while the final save is in
progress: the save prints `SAVE-STARTED` on stderr, sleeps, writes the real checkpoint through
the torch adapter, and prints `SAVE-FINISHED`. If those signals were not ignored during the
save, the sleep would end in KeyboardInterrupt and no report.json would be written.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import torch  # noqa: F401, TID253 - first, as in every process that may load both frameworks

from plateau_cli.adapters.torch.handle import TorchHandle
from plateau_cli.cli import main

SAVE_SECONDS = 2.0
_original_save = TorchHandle.save


def _slow_save(self: TorchHandle, path: Path, *, epochs_done: int) -> Any:
    sys.stderr.write("SAVE-STARTED\n")
    sys.stderr.flush()
    time.sleep(SAVE_SECONDS)
    result = _original_save(self, path, epochs_done=epochs_done)
    sys.stderr.write("SAVE-FINISHED\n")
    sys.stderr.flush()
    return result


TorchHandle.save = _slow_save  # type: ignore[method-assign]

if __name__ == "__main__":
    main(sys.argv[1:])
