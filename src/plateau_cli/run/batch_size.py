"""The batch size to resume at: the run's own, read from what the run left behind.

Resuming at another batch size than the run's changes the optimisation (the noise of each step,
the effective learning rate), and the default of 32 is up to 5x slower per epoch than a run's
256. So, unless `--batch-size` is given, the run's batch size is looked for, in this order:

1. what the run wrote down: Lightning's `hyper_parameters` (`batch_size`, `train_batch_size`,
   or a `data`/`datamodule` section holding one), Hugging Face's `trainer_state.json`
   (`train_batch_size`), a checkpoint's own `batch_size` or `args`/`config`/`hparams` entry;
2. otherwise an estimate from the optimizer's step count (Keras `iterations`, torch Adam
   `step`, a checkpoint's `global_step`) over the epochs the checkpoint or the log records and
   the training-set size given now: steps per epoch s = steps / epochs, and every batch size b
   with ceil(n / b) == s (or floor(n / b) == s, when the last partial batch was dropped) fits.
   The estimate is accepted only when a power of two is among those (then it is the answer):
   people choose powers of two, and the estimate is only as good as n, which is the data given
   now. Measured on the samples: the augment sample, trained on 120 rows, given the 1437-row
   digits set, implies 360 (4 steps per epoch), which fits no power of two; a wrong batch size
   changes the optimisation, so such a count falls back to 32, as before. It is also refused
   when steps is not a whole number of epochs (a run stopped mid-epoch, gradient
   accumulation) or when there are more steps per epoch than samples;
3. otherwise 32, said so.

A user's DataLoader keeps its own batch size; the report then states that one
(`loader_batch_size`). Everything here is pure Python on already-loaded metadata.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_BATCH_SIZE = 32

#: Where the batch size came from (`batch_size_source` in report.json).
OPTION = "option"
CHECKPOINT = "checkpoint"
TRAINER_STATE = "trainer-state"
STEPS = "step-count"
DATA_LOADER = "data-loader"
DEFAULT = "default"

#: Keys a training script uses for its batch size, most specific first.
_KEYS = ("train_batch_size", "batch_size", "per_device_train_batch_size", "bs", "batchsize")
#: Entries of a checkpoint dict that hold a script's settings.
_SETTINGS = ("hyper_parameters", "hparams", "args", "config", "cfg", "opt", "options")
#: Sections inside those settings that hold the data settings.
_SECTIONS = ("data", "datamodule", "dataloader", "train", "training", "datamodule_hyper_parameters")


@dataclass(frozen=True)
class BatchSize:
    """The batch size chosen, and where it came from (for report.json and report.md)."""

    value: int
    source: str
    #: One sentence for report.md: "from the checkpoint's hyper_parameters.batch_size".
    detail: str


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    return None


def _as_mapping(value: Any) -> Mapping[str, Any] | None:
    """A dict, or an object with attributes (argparse.Namespace, an OmegaConf-like config)."""
    if isinstance(value, Mapping):
        return value
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict) and not callable(value):
        return attributes
    return None


def from_settings(settings: Any, where: str) -> tuple[int, str] | None:
    """A batch size in a settings mapping (hyper-parameters, argparse args), with its path."""
    mapping = _as_mapping(settings)
    if mapping is None:
        return None
    for key in _KEYS:
        found = _positive_int(mapping.get(key))
        if found is not None:
            return found, f"{where}.{key}"
    for section in _SECTIONS:
        inner = mapping.get(section)
        if inner is not None:
            found_inner = from_settings(inner, f"{where}.{section}")
            if found_inner is not None:
                return found_inner
    return None


def from_checkpoint(entries: Mapping[str, Any]) -> tuple[int, str] | None:
    """A torch checkpoint dict's own record: `batch_size`, or one in its settings entries
    (Lightning's `hyper_parameters` included)."""
    for key in _KEYS:
        value = _positive_int(entries.get(key))
        if value is not None:
            return value, key
    for key in _SETTINGS:
        if key in entries:
            hit = from_settings(entries[key], key)
            if hit is not None:
                return hit
    return None


def from_trainer_state(state: Mapping[str, Any]) -> int | None:
    """Hugging Face `trainer_state.json`: `train_batch_size` (per device, as the Trainer ran)."""
    return _positive_int(state.get("train_batch_size"))


def trainer_state_beside(checkpoint: Path) -> Mapping[str, Any] | None:
    """The `trainer_state.json` of a Hugging Face checkpoint directory, when there is one."""
    folder = checkpoint if checkpoint.is_dir() else checkpoint.parent
    path = folder / "trainer_state.json"
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def from_step_count(steps: int, epochs: int, n_train: int) -> int | None:
    """The batch size that makes `epochs` epochs over `n_train` samples take `steps` steps.

    None when the counts cannot come from whole epochs of one batch size.
    """
    if steps <= 0 or epochs <= 0 or n_train <= 0 or steps % epochs:
        return None
    per_epoch = steps // epochs
    if per_epoch > n_train:
        return None
    candidates = set(range(math.ceil(n_train / per_epoch), _ceil_upper(n_train, per_epoch) + 1))
    candidates |= set(range(n_train // (per_epoch + 1) + 1, n_train // per_epoch + 1))
    candidates = {b for b in candidates if 1 <= b <= n_train}
    powers = sorted(b for b in candidates if b & (b - 1) == 0)
    if not powers:
        return None  # see the module docstring: more likely other data than an odd batch size
    return powers[0] if len(powers) == 1 else _nearest(powers, n_train / per_epoch)


def _ceil_upper(n: int, per_epoch: int) -> int:
    """The largest b with ceil(n / b) == per_epoch."""
    if per_epoch == 1:
        return n
    return math.ceil(n / (per_epoch - 1)) - 1


def _nearest(values: list[int], target: float) -> int:
    return min(values, key=lambda v: abs(v - target))


def resolve(
    given: int | None,
    *,
    recorded: tuple[int, str] | None = None,
    trainer_state: Mapping[str, Any] | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    epochs_from: str = "the checkpoint",
    n_train: int | None = None,
) -> BatchSize:
    """The batch size to use: `--batch-size`, else the run's, else an estimate, else 32.

    `recorded` is what `from_checkpoint` found in the checkpoint. `epochs` may be the index of
    the last epoch counted from 0 (scripts save either): epochs + 1 is tried too, and when both
    fit, the one giving a power of two wins (else `epochs`).
    """
    if given is not None:
        return BatchSize(given, OPTION, "as given with --batch-size")
    if trainer_state is not None:
        value = from_trainer_state(trainer_state)
        if value is not None:
            return BatchSize(value, TRAINER_STATE, "the run's, from trainer_state.json")
    if recorded is not None:
        return BatchSize(recorded[0], CHECKPOINT, f"the run's, from the checkpoint's {recorded[1]}")
    if steps and epochs and n_train:
        fits = [
            (value, count)
            for count in (epochs, epochs + 1)
            if (value := from_step_count(steps, count, n_train)) is not None
        ]
        # Both counts can divide the steps; a power of two marks the one the run used.
        fits.sort(key=lambda fit: fit[0] & (fit[0] - 1) != 0)
        if fits:
            value, count = fits[0]
            return BatchSize(
                value,
                STEPS,
                f"estimated from the optimizer's {steps} steps over {count} epochs (from"
                f" {epochs_from}) of {n_train} training samples",
            )
    return BatchSize(
        DEFAULT_BATCH_SIZE, DEFAULT, "the default: the run's batch size is recorded nowhere"
    )


def loader_batch_size(chosen: BatchSize, loader_size: int | None) -> BatchSize:
    """A user's DataLoader batches for itself: its batch size is the one that runs."""
    if loader_size is None or loader_size == chosen.value:
        return chosen
    return BatchSize(loader_size, DATA_LOADER, "the DataLoader's own (--batch-size does not apply)")
