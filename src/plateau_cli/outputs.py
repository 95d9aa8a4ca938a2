"""Where `resume` writes, and writing it: never over the input, never half a set of files.

The output directory is only created when the first artefact is written, so a run that fails
on bad input leaves nothing behind. The checkpoint is written first and report.json last: a
directory with a report.json holds a complete, consistent set.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from plateau_cli.atomic import remove_stale_temporaries
from plateau_cli.errors import OutputError, UsageError

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
HISTORY_CSV = "history.csv"
CURVES_PNG = "curves.png"
#: An interrupted run's last completed epoch, for `resume --continue`.
CONTINUE_DIR = ".continue"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    if path.is_dir():  # a directory checkpoint: hash names and contents in a stable order
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(str(child.relative_to(path)).encode())
            digest.update(sha256_of(child).encode())
        return digest.hexdigest()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_out_dir(model: Path, strategy: str) -> Path:
    """A new directory beside the model: `model-lr-decay/`, then `model-lr-decay-2/`, ..."""
    stem = model.name.split(".")[0] or "model"
    base = model.parent / f"{stem}-{strategy}"
    candidate, n = base, 2
    while candidate.exists():
        candidate = base.with_name(f"{base.name}-{n}")
        n += 1
    return candidate


def check_out_dir(out_dir: Path, model: Path, checkpoint_name: str | None = None) -> None:
    """Refuse an output that would write over the input or cannot be a directory."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir}: exists and is not a directory")
    resolved_model = model.resolve()
    if out_dir.resolve() == resolved_model:
        raise UsageError(f"--out {out_dir}: is the input model itself")
    if resolved_model.is_dir() and out_dir.resolve().is_relative_to(resolved_model):
        # A directory checkpoint (a Hugging Face checkpoint-N/, a Keras BackupAndRestore
        # backup_dir, which Keras deletes whole when a later fit finishes).
        raise UsageError(
            f"--out {out_dir}: is inside the input checkpoint directory {model}; plateau-cli"
            " never writes into its input: choose a directory beside it"
        )
    if checkpoint_name and (out_dir / checkpoint_name).resolve() == resolved_model:
        raise UsageError(
            f"--out {out_dir}: would write {checkpoint_name} over the input model; choose"
            " another directory (plateau-cli never overwrites its input)"
        )
    _check_writable(out_dir)


def _check_writable(out_dir: Path) -> None:
    """Fail before training, not after it, when the directory can never be written.

    The nearest existing ancestor decides: a file there (`--out results.txt/run`) or a
    read-only one (a read-only mount refuses even root: `access(2)` reports EROFS).
    """
    absolute = out_dir.absolute()
    ancestor = next((p for p in (absolute, *absolute.parents) if p.exists()), None)
    if ancestor is None:
        return
    if not ancestor.is_dir():
        raise UsageError(
            f"--out {out_dir}: {ancestor} is a file, so no directory can be made there"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(
            f"--out {out_dir}: {ancestor} is not writable (read-only file system or no"
            " permission); choose another --out"
        )


def ensure_out_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out_dir}: {exc.strerror or exc}") from exc
    remove_stale_temporaries(out_dir)
