"""`keras.callbacks.BackupAndRestore` directories, resumed with the code that builds the model.

After an interrupted `fit`, the callback's `backup_dir` holds `latest.weights.h5` (written by
`model.save_weights`: the weights and, in Keras 3, the optimizer's variables) and
`training_metadata.json` (`{"epoch": N, "batch": M}`: N epochs finished; M the last batch seen
of the next one when `save_freq` is a number of batches). A finished fit deletes the directory,
so what is found on disk is always a run that stopped early. With `double_checkpoint=True` the
previous state is kept beside it as `*.bkp`, which Keras falls back to when the latest cannot
be read; so does this module.

There is no architecture in it, so it is read exactly as a `.weights.h5` with
`--model-factory` (see weights_only): the epoch reached goes into the description, where the
batch-size estimate (steps over epochs) and `inspect` find it, and the output is a full
`.keras` that the next resume opens without the factory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py

from plateau_cli.adapters.base import LoadOptions
from plateau_cli.adapters.keras import weights_only
from plateau_cli.adapters.keras.loading import Loaded
from plateau_cli.adapters.sniff import BACKUP_METADATA, BACKUP_PREVIOUS, BACKUP_WEIGHTS
from plateau_cli.errors import BadInputError, CorruptCheckpointError

#: The largest training_metadata.json read (Keras writes ~30 bytes).
_MAX_METADATA_BYTES = 1 << 16


@dataclass(frozen=True)
class BackupState:
    """One saved training state of a backup directory."""

    weights: Path
    #: Epochs finished when it was written; None without a training_metadata.json.
    epoch: int | None
    #: The last batch seen of the unfinished epoch (save_freq=N batches), else 0.
    batch: int
    #: The `.bkp` copy, used because the latest could not be read.
    previous: bool


def read_state(path: Path) -> BackupState:
    """The state Keras' own `on_train_begin` would restore: the latest, else the previous."""
    latest = path / BACKUP_WEIGHTS
    previous = path / (BACKUP_WEIGHTS + BACKUP_PREVIOUS)
    if _readable_hdf5(latest):
        epoch, batch = _metadata(path / BACKUP_METADATA)
        return BackupState(latest, epoch, batch, previous=False)
    if _readable_hdf5(previous):
        epoch, batch = _metadata(path / (BACKUP_METADATA + BACKUP_PREVIOUS))
        return BackupState(previous, epoch, batch, previous=True)
    if latest.exists():
        raise CorruptCheckpointError(
            f"{latest}: not a readable HDF5 file, and no previous backup"
            f" ({previous.name}) beside it; the backup is damaged"
        )
    raise BadInputError(
        f"{path}: a Keras BackupAndRestore directory without {BACKUP_WEIGHTS}; Keras writes it"
        " at the end of the first epoch (and deletes the whole directory when a fit finishes)"
    )


def load(path: Path, fmt: str, options: LoadOptions) -> Loaded:
    state = read_state(path)
    if not options.model_factory:
        raise BadInputError(
            f"{path}: a Keras BackupAndRestore directory{_after(state)} holds weights only, no"
            " model; name the code that builds it: --model-factory build.py:make_model"
        )
    with _keras_named(state.weights) as weights:
        try:
            loaded = weights_only.load(weights, fmt, options)
        except BadInputError as exc:
            if weights == state.weights:
                raise
            # Name the user's file, not the temporary alias Keras read it through.
            raise type(exc)(exc.message.replace(str(weights), str(state.weights))) from exc
    notes = [
        note.replace(weights.name, state.weights.name) if weights != state.weights else note
        for note in loaded.notes
    ]
    notes.append(_state_note(state))
    if state.previous:
        notes.append(
            f"{BACKUP_WEIGHTS} is missing or damaged: the previous backup"
            f" ({state.weights.name}) is used, as Keras' BackupAndRestore itself would"
        )
    return dataclasses.replace(loaded, notes=tuple(notes), extra=_extra(state))


def _state_note(state: BackupState) -> str:
    if state.epoch is None:
        return (
            f"a BackupAndRestore backup without {BACKUP_METADATA}: the epoch it stopped at is"
            " unknown"
        )
    if state.batch:
        return (
            f"a BackupAndRestore backup written during epoch {state.epoch + 1}, after"
            f" {state.epoch} full epochs and batch {state.batch} of the next"
        )
    return f"a BackupAndRestore backup written after epoch {state.epoch} ({BACKUP_METADATA})"


def _after(state: BackupState) -> str:
    return f" (written after epoch {state.epoch})" if state.epoch is not None else ""


def _extra(state: BackupState) -> dict[str, Any]:
    extra: dict[str, Any] = {"backup_weights": state.weights.name}
    if state.epoch is not None:
        extra["backup_epoch"] = state.epoch
        extra["backup_batch"] = state.batch
        if not state.batch:  # a whole number of epochs: the step count divides by it
            extra["checkpoint_epoch"] = state.epoch
    return extra


def _readable_hdf5(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r"):
            return True
    except OSError:
        return False


def _metadata(path: Path) -> tuple[int | None, int]:
    """`{"epoch": N, "batch": M}`, as `BackupAndRestore._save_model` writes it."""
    if not path.is_file():
        return None, 0
    try:
        if path.stat().st_size > _MAX_METADATA_BYTES:
            raise ValueError("too large")
        parsed = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise _bad_metadata(path) from exc
    if not isinstance(parsed, dict):
        raise _bad_metadata(path)
    epoch, batch = parsed.get("epoch"), parsed.get("batch", 0)
    if not _count(epoch) or not _count(batch):
        raise _bad_metadata(path)
    return int(epoch), int(batch)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _bad_metadata(path: Path) -> CorruptCheckpointError:
    return CorruptCheckpointError(
        f'{path}: not what BackupAndRestore writes ({{"epoch": N, "batch": M}}); the backup is'
        " damaged"
    )


@contextlib.contextmanager
def _keras_named(weights: Path) -> Iterator[Path]:
    """Keras' `load_weights` picks its reader by the name, which must end in `.weights.h5`."""
    if weights.name.endswith(".weights.h5"):
        yield weights
        return
    with tempfile.TemporaryDirectory(prefix="plateau-keras-") as directory:
        alias = Path(directory) / BACKUP_WEIGHTS
        try:
            alias.symlink_to(weights.resolve())
        except OSError:
            shutil.copyfile(weights, alias)
        yield alias
