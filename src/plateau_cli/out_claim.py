"""Whose `--out` is it? Refuse one that holds another run or an input; move an old run aside.

Two promises (DESIGN.md: `--overwrite` is the only way into an `--out` that holds another
run's artefacts):
- an input (the model, the data file, a log, a factory's file) is never replaced: an input at
  a path the run would write is refused even with `--overwrite`, and an `--out` that merely
  holds an input needs `--overwrite` (the input then stays where it is);
- the artefacts of an earlier run are never half-replaced: with `--overwrite` they are moved,
  whole, into `OUT/.previous-<UTC time>/` before the new run writes anything. Inside OUT, not
  beside it: a rename within one directory cannot cross file systems (OUT may be a mount
  point), so moving is a rename, never a copy, and the parent of OUT need not be writable.
  report.json moves first, so a kill during the move never leaves an old report.json beside
  the files of a new run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from plateau_cli.atomic import fsync_dir
from plateau_cli.errors import OutputError, UsageError
from plateau_cli.outputs import CONTINUE_DIR, CURVES_PNG, HISTORY_CSV, REPORT_JSON, REPORT_MD

#: What `resume` and `trial` write at the top of an output directory (checkpoints aside: their
#: name depends on the input, see `check_claim(checkpoint_name=...)`). report.json first: the
#: order in which `move_aside` moves them.
RUN_ARTEFACTS = (
    REPORT_JSON,
    "trial.json",
    REPORT_MD,
    HISTORY_CSV,
    CURVES_PNG,
    "trial.md",
    "trial.png",
    "candidates",
    CONTINUE_DIR,
)
#: Output checkpoints are `<stem>.<the input's suffix>` (KerasHandle, TorchHandle.checkpoint_name).
CHECKPOINT_STEMS = ("model", "checkpoint")
PREVIOUS_PREFIX = ".previous-"
#: The lock file (plateau_cli.out_lock); an input there would be replaced too.
LOCK_NAME = ".plateau.lock"


def input_paths(*sources: str | Path | None) -> tuple[Path, ...]:
    """The files and folders a run reads: paths as given, and the file of `file.py:function`."""
    found: list[Path] = []
    for source in sources:
        if source is None:
            continue
        text = str(source)
        candidates = [Path(text)]
        if ":" in text:
            candidates.append(Path(text.rsplit(":", 1)[0]))
        found += [p for p in candidates if p.exists()]
    return tuple(dict.fromkeys(p.resolve() for p in found))


def _written_paths(out_dir: Path, checkpoint_name: str | None) -> set[Path]:
    names = {*RUN_ARTEFACTS, LOCK_NAME, *([checkpoint_name] if checkpoint_name else [])}
    return {(out_dir / n).resolve() for n in names}


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def held_artefacts(out_dir: Path, checkpoint_name: str | None = None) -> list[str]:
    """The names in `out_dir` that an earlier run wrote (or that this run would write over).

    Checkpoints are named after the input's family (`model.keras`, `checkpoint.pt`,
    `model.safetensors`), so any `model.*` or `checkpoint.*` counts as one.
    """
    if not out_dir.is_dir():
        return []
    checkpoints = sorted(
        p.name for stem in CHECKPOINT_STEMS for p in out_dir.glob(f"{stem}.*") if p.is_file()
    )
    names = [*RUN_ARTEFACTS, *([checkpoint_name] if checkpoint_name else []), *checkpoints]
    return [n for n in dict.fromkeys(names) if os.path.lexists(out_dir / n)]


def check_claim(
    out_dir: Path,
    inputs: Sequence[Path],
    *,
    overwrite: bool,
    checkpoint_name: str | None = None,
) -> None:
    """Refuse (exit 2, nothing written) an `--out` that is not this run's to write."""
    root = out_dir.resolve()
    written = _written_paths(out_dir, checkpoint_name)
    for path in inputs:
        if path == root:
            raise UsageError(
                f"--out {out_dir}: is the input {path} itself; choose another --out"
                " (plateau-cli never writes over its input, even with --overwrite)"
            )
        target = next((w for w in written if _inside(path, w)), None)
        if target is None and path.parent == root and path.name.split(".")[0] in CHECKPOINT_STEMS:
            target = path  # the output checkpoint may take this name: known after loading
        if target is not None:
            raise UsageError(
                f"--out {out_dir}: the run would write {target.name} over the input {path};"
                " choose another --out (plateau-cli never writes over its input, even with"
                " --overwrite)"
            )
    if overwrite:
        return
    held = [n for n in held_artefacts(out_dir, checkpoint_name) if (root / n) not in inputs]
    if held:
        raise UsageError(
            f"--out {out_dir} holds another run's {', '.join(held)}; choose another --out, or"
            f" pass --overwrite to move that run aside into {out_dir}/{PREVIOUS_PREFIX}<time>/"
        )
    inside = [p for p in inputs if _inside(p, root)]
    if inside:
        raise UsageError(
            f"--out {out_dir} holds the input {inside[0]}; choose a directory of its own, or pass"
            " --overwrite to write beside it (the input is never moved or replaced)"
        )


def move_aside(
    out_dir: Path, inputs: Iterable[Path] = (), checkpoint_name: str | None = None
) -> Path | None:
    """Move an earlier run's artefacts into `OUT/.previous-<UTC time>/`; return that folder.

    Inputs are never moved. Returns None when there was nothing to move.
    """
    keep = set(inputs)
    held = [
        n for n in held_artefacts(out_dir, checkpoint_name) if (out_dir / n).resolve() not in keep
    ]
    if not held:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = out_dir / f"{PREVIOUS_PREFIX}{stamp}"
    n = 2
    while target.exists():
        target = out_dir / f"{PREVIOUS_PREFIX}{stamp}-{n}"
        n += 1
    try:
        target.mkdir()
        for name in held:  # report.json first (RUN_ARTEFACTS' order)
            os.rename(out_dir / name, target / name)
        fsync_dir(target)
        fsync_dir(out_dir)
    except OSError as exc:
        raise OutputError(
            f"cannot move the earlier run in {out_dir} aside: {exc.strerror or exc}; nothing of"
            f" it was lost (what moved is in {target})"
        ) from exc
    return target
