"""Finding TensorBoard runs in a directory and choosing one.

A run is a directory holding event files. Keras' TensorBoard callback splits one run into `train/`
and `validation/` sub-directories, so those count as parts of their parent's run. The latest run
is the one whose newest event file was created last, by the creation time TensorBoard writes
into every event file name (`events.out.tfevents.<seconds>.<host>...`): unlike a file's mtime, it
survives copies and git checkouts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from plateau_cli.errors import BadInputError, UsageError

EVENT_GLOB = "events.out.tfevents.*"
#: Sub-directories that are parts of one run (Keras writes train/ and validation/).
PART_NAMES = {"train", "training", "validation", "val", "eval", "evaluation", "test"}
_CREATED = re.compile(r"events\.out\.tfevents\.(\d+)")
_MAX_FILES = 10_000


@dataclass(frozen=True)
class TbRun:
    name: str
    #: (part, event file) pairs: part is "train"/"validation"/... or "" for the run's own files.
    files: tuple[tuple[str, Path], ...]

    @property
    def created(self) -> float:
        return max(created(path) for _, path in self.files)


def created(path: Path) -> float:
    match = _CREATED.match(path.name)
    if match:
        return float(match.group(1))
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def is_event_file(path: Path) -> bool:
    return path.name.startswith("events.out.tfevents.")


def find_runs(root: Path) -> list[TbRun]:
    """Every run under `root`, sorted by creation time (oldest first)."""
    grouped: dict[str, list[tuple[str, Path]]] = {}
    count = 0
    for directory, _, names in os.walk(root):
        for file_name in sorted(names):
            if not file_name.startswith("events.out.tfevents."):
                continue
            count += 1
            if count > _MAX_FILES:
                raise BadInputError(
                    f"{root}: more than {_MAX_FILES:,} event files; point at one run's directory"
                )
            folder = Path(directory)
            part = ""
            if folder.name.lower() in PART_NAMES and folder != root:
                part, folder = folder.name.lower(), folder.parent
            name = folder.relative_to(root).as_posix()
            name = root.resolve().name or "." if name == "." else name
            grouped.setdefault(name, []).append((part, Path(directory) / file_name))
    runs = [
        TbRun(name, tuple(sorted(files, key=lambda f: created(f[1]))))
        for name, files in grouped.items()
    ]
    return sorted(runs, key=lambda r: (r.created, r.name))


def choose_run(root: Path, runs: list[TbRun], wanted: str | None) -> tuple[TbRun, str | None]:
    """The run asked for (by name, or by last path component when that is unique), else the
    latest; with a note naming the choice when there was one to make."""
    names = ", ".join(r.name for r in runs)
    if wanted is not None:
        wanted = wanted.strip("/") or "."
        exact = [r for r in runs if r.name == wanted]
        by_tail = [r for r in runs if r.name.rsplit("/", 1)[-1] == wanted]
        chosen = exact or (by_tail if len(by_tail) == 1 else [])
        if not chosen:
            raise UsageError(f"{root}: no TensorBoard run {wanted!r}; runs: {names}")
        return chosen[0], None
    latest = runs[-1]
    if len(runs) == 1:
        return latest, None
    return latest, (
        f"{len(runs)} runs found ({names}): read {latest.name!r}, the latest (choose with --run)"
    )
