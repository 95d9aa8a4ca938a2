"""Importing TensorFlow and Keras quietly, once, and facts about the installed versions.

TensorFlow 2.21 prints its start-up chatter before its own logging is set up: two lines per
native library ("WARNING: All log messages before absl::InitializeLog() is called are written to
STDERR" and "oneDNN custom operations are on ..."). Measured: `TF_CPP_MIN_LOG_LEVEL` (any value)
does not silence those two; it does silence the later "cpu_feature_guard" lines. So the level
defaults to 2 (errors only) unless the user set it, and, unless they set it to 0 (show me
everything), the import runs with the native stderr redirected to a temporary file; every line
that is not one of the known start-up notices is written back afterwards, so an import error or
an unknown warning is never swallowed. `TF_ENABLE_ONEDNN_OPTS=0` would also remove the oneDNN
line, but it changes the numerics of every run, so it is left to the user.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator

#: Start-up lines that say nothing actionable; anything else on stderr is passed through.
_CHATTER = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "cpu_feature_guard",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions:",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation placer already registered",
    "Could not find cuda drivers on your machine",
    "TF-TRT Warning: Could not find TensorRT",
    # A GPU build of TensorFlow on a machine without a usable GPU, at device discovery:
    # "E0000 ... cuda_executor.cc:1309] failed call to cuInit: INTERNAL: CUDA error: Failed call
    # to cuInit: UNKNOWN ERROR (303)". It made every Keras error two lines; the CPU is used.
    "failed call to cuInit",
)


def is_chatter(line: str) -> bool:
    return any(marker in line for marker in _CHATTER)


def _writes_to_fd2(stream: object) -> bool:
    try:
        return stream.fileno() == 2  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # pytest's capture, a StringIO...
        return False


@contextlib.contextmanager
def _filtered_stderr() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file; afterwards replay all but the chatter.

    Only native writes are diverted: Python's `sys.stderr` (warnings, a rich spinner the CLI may
    be showing meanwhile) keeps writing to the terminal through a duplicate of the descriptor.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded interpreter): nothing to filter
        yield
        return
    original = sys.stderr
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        if _writes_to_fd2(original):
            sys.stderr = io.TextIOWrapper(
                io.FileIO(saved, "w", closefd=False),
                encoding=getattr(original, "encoding", None) or "utf-8",
                errors="backslashreplace",
                line_buffering=True,
            )
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            sys.stderr = original
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [
                line
                for line in capture.read().decode("utf-8", "replace").splitlines(keepends=True)
                if not is_chatter(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras now, without their start-up notices on the user's terminal.

    `TF_CPP_MIN_LOG_LEVEL=0` set by the user means "show me everything": then nothing is
    filtered. A missing package raises ModuleNotFoundError unchanged: `frameworks.adapter_for`
    turns it into a MissingDependencyError naming what to install.
    """
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return
    wants_all = os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    guard = contextlib.nullcontext() if wants_all else _filtered_stderr()
    with guard:
        import keras  # noqa: F401
        import tensorflow

        # Device discovery (where a GPU build calls cuInit) happens lazily at the first op,
        # outside this filter; done here, its one error line is filtered with the rest.
        with contextlib.suppress(Exception):
            tensorflow.config.list_physical_devices("GPU")


def installed_keras_version() -> str:
    import keras

    return str(keras.__version__)


def parse_version(text: str | None) -> tuple[int, ...] | None:
    """`"3.15.1"` -> (3, 15, 1); `"2.15.0-tf"` -> (2, 15, 0); None for anything unreadable."""
    if not text:
        return None
    parts: list[int] = []
    for piece in str(text).strip().split("."):
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or None
