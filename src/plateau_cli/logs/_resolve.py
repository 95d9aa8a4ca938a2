"""A run directory to the log file inside it, by one rule per kind of directory, in this order:

1. TensorBoard event files anywhere below: the directory is read as TensorBoard runs.
2. Lightning `metrics.csv`: the one in the highest `version_N`.
3. Hugging Face `trainer_state.json`: the one with the highest `global_step` (the final copy
   that `save_state()` writes wins a tie over a `checkpoint-N` copy).
4. A plateau-cli output directory's `history.csv`.
5. A log file directly inside (.csv, .log, .txt, .jsonl, .json, .out): the most recently
   modified one.

The choice is named in the notes whenever there was more than one candidate.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from plateau_cli.errors import BadInputError

_MAX_DEPTH = 4
_MAX_ENTRIES = 20_000
_LOG_SUFFIXES = {".csv", ".log", ".txt", ".jsonl", ".json", ".out", ".ndjson"}
_VERSION = re.compile(r"version_(\d+)$")
_CHECKPOINT = re.compile(r"checkpoint-(\d+)$")


@dataclass(frozen=True)
class Resolved:
    """What to read in a directory: the directory itself as TensorBoard, or one file."""

    path: Path
    tensorboard: bool
    note: str | None


def _walk(root: Path) -> list[Path]:
    """Files up to _MAX_DEPTH levels below root (bounded, so a home directory cannot hang us)."""
    found: list[Path] = []
    base = len(root.parts)
    for directory, dirs, names in os.walk(root):
        depth = len(Path(directory).parts) - base
        if depth >= _MAX_DEPTH:
            dirs[:] = []
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(directory) / n for n in sorted(names))
        if len(found) > _MAX_ENTRIES:
            break
    return found


def resolve_directory(root: Path) -> Resolved:
    files = _walk(root)
    if any(f.name.startswith("events.out.tfevents.") for f in files):
        return Resolved(root, True, None)
    metrics = [f for f in files if f.name == "metrics.csv"]
    if metrics:
        chosen = max(metrics, key=lambda f: (_number(_VERSION, f.parent.name), str(f)))
        return Resolved(chosen, False, _choice(root, chosen, len(metrics), "the highest version"))
    states = [f for f in files if f.name == "trainer_state.json"]
    if states:
        chosen = max(states, key=lambda f: (_global_step(f), not _CHECKPOINT.match(f.parent.name)))
        return Resolved(
            chosen, False, _choice(root, chosen, len(states), "the highest global_step")
        )
    history = root / "history.csv"
    if history.is_file():
        return Resolved(history, False, None)
    logs = [f for f in files if f.parent == root and f.suffix.lower() in _LOG_SUFFIXES]
    if logs:
        chosen = max(logs, key=lambda f: (_mtime(f), f.name))
        return Resolved(chosen, False, _choice(root, chosen, len(logs), "the newest"))
    raise BadInputError(
        f"{root}: no training log found in this directory (looked for TensorBoard event files,"
        " Lightning metrics.csv, trainer_state.json, history.csv, and .csv/.log/.txt/.jsonl"
        " files); pass the log file itself"
    )


def _choice(root: Path, chosen: Path, count: int, rule: str) -> str | None:
    if count == 1:
        return None
    return f"{count} candidate logs in {root}: read {chosen.relative_to(root)}, {rule}"


def _number(pattern: re.Pattern[str], name: str) -> int:
    match = pattern.search(name)
    return int(match.group(1)) if match else -1


def _global_step(path: Path) -> int:
    """The state's global_step; -1 when unreadable (a copy still being written loses)."""
    try:
        state = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return -1
    step = state.get("global_step") if isinstance(state, dict) else None
    if isinstance(step, int) and not isinstance(step, bool):
        return step
    return _number(_CHECKPOINT, path.parent.name)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
