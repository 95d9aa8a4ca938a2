"""Is the checkpoint past the log's best epoch, and does a checkpoint of that epoch sit beside it?

An overfitting run goes on after its best validation epoch; the checkpoint a user hands over is
usually the last one, several epochs past the best (FINDINGS §6: a 100-image CNN at 1.30 whose
best epoch had 1.02). Regularizing from there starts from weights that already memorised more
than the best ones had. Training scripts commonly keep per-epoch checkpoints next to the last
one, named for their epoch; when the best epoch's is there, regularize starts from it.

Names recognised (the number is the epoch):

- Lightning's `epoch=7.ckpt`, `epoch=7-step=560.ckpt` (counted from 0, as Lightning does);
- `epoch_7.pt`, `model_epoch-07.pth`, `epoch07.keras` (counted from 1, as logs and Keras'
  `ModelCheckpoint("model-{epoch:02d}.keras")` count);
- `model-07.keras`, `weights.07-0.52.h5`, `checkpoint-7`, `ckpt_7.pt` (counted from 1); a
  Hugging Face `checkpoint-N/` directory names a step, so its `trainer_state.json` epoch is used.

Framework-free: the caller loads the file it names.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from plateau_cli.history import RunHistory
from plateau_cli.monitor import Mode, Monitor

#: The last epoch must be worse than the best by this share of the best for "past the best".
MIN_RISE = 0.01
#: Examples of the names looked for, for the report when none is found.
EXAMPLES = "epoch=07.ckpt, epoch_7.pt, model-07.keras, checkpoint-7"

_EPOCH = re.compile(r"epoch[=_-]?0*(\d+)", re.IGNORECASE)
_NUMBERED = re.compile(
    r"^(?:model|weights|checkpoint|ckpt)[._-]0*(\d+)(?![0-9A-Za-z])", re.IGNORECASE
)


@dataclass(frozen=True)
class PastBest:
    """The log's best epoch of the monitored metric, and where the log ends."""

    metric: str
    best_epoch: int
    best_value: float
    last_epoch: int
    last_value: float

    @property
    def epochs_past(self) -> int:
        return self.last_epoch - self.best_epoch


def past_best(history: RunHistory, monitor: Monitor) -> PastBest | None:
    """The best epoch when the log ends clearly worse than it (an overfitting run), else None."""
    metric = monitor.metric if history.get(monitor.metric) is not None else "val_loss"
    series = history.get(metric)
    if series is None or len(series) < 2:
        return None
    values = [float(v) for v in series.values]
    index = [int(i) for i in series.index]
    finite = [i for i, v in enumerate(values) if math.isfinite(v)]
    if not finite:
        return None
    minimise = monitor.mode is Mode.MIN if metric == monitor.metric else True
    pick = min if minimise else max
    best = pick(finite, key=lambda i: values[i])
    last = len(values) - 1
    rise = values[last] - values[best] if minimise else values[best] - values[last]
    if best == last or not math.isfinite(values[last]):
        return None
    if rise <= MIN_RISE * abs(values[best]):
        return None
    return PastBest(metric, index[best], values[best], index[last], values[last])


def epoch_of(path: Path) -> int | None:
    """The epoch a checkpoint's name gives (counted from 1), or None."""
    name = path.name
    if path.is_dir() and (path / "trainer_state.json").is_file():
        try:
            epoch = json.loads((path / "trainer_state.json").read_text()).get("epoch")
        except (OSError, ValueError, AttributeError):
            epoch = None
        if isinstance(epoch, (int, float)) and math.isfinite(epoch):
            return round(epoch)
    found = _EPOCH.search(name)
    if found is not None:
        number = int(found.group(1))
        lightning = name.lower().endswith(".ckpt") and "epoch=" in name.lower()
        return number + 1 if lightning else number
    found = _NUMBERED.match(name)
    return int(found.group(1)) if found is not None else None


def checkpoint_of_epoch(model: Path, epoch: int) -> Path | None:
    """A checkpoint of `epoch` beside `model` (not `model` itself); the same suffix first."""
    directory = model.parent
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return None
    matches = [
        p
        for p in entries
        if p.resolve() != model.resolve() and not p.name.startswith(".") and epoch_of(p) == epoch
    ]
    if not matches:
        return None
    same = [p for p in matches if p.suffix == model.suffix]
    return (same or matches)[0]
