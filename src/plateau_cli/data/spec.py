"""`--data` and its companion options, checked before any framework is imported.

A wrong path or a missing `--val-split` should cost the user a fraction of a second, not the
2-5 s of loading TensorFlow or torch and the model first. So this reads only what is cheap: the
file's first bytes, an npz archive's directory, a CSV's header line, the folder names of an
image folder.

`--val-split` where the data already has a validation split is refused, not ignored: an
option that silently does nothing lets a script believe it evaluates on a split it does not,
and the fix (drop the option) is one word. The same goes for `--target` on anything but a CSV.
"""

from __future__ import annotations

import math
from pathlib import Path

from plateau_cli.data import csv_table, image_folder, npz
from plateau_cli.data.base import DataSpec
from plateau_cli.entry_points import looks_like_entry_point
from plateau_cli.errors import BadInputError, UnknownFormatError, UsageError

KINDS = ("npz", "csv", "image-folder", "entry-point")
_ZIP_MAGIC = b"PK\x03\x04"
_CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
_ACCEPTED = (
    "an .npz (x_train, y_train, x_val, y_val), a CSV with --target, an image folder"
    " (DIR/train/<class>/, DIR/val/<class>/), or module:function"
)


def parse_data_spec(
    source: str, *, target: str | None, val_split: float | None, seed: int
) -> DataSpec:
    """Check `--data`, `--target`, `--val-split` and `--seed` together; say what to fix."""
    source = source.strip()
    if not source:
        raise UsageError(f"--data is empty; give {_ACCEPTED}")
    if val_split is not None and not (math.isfinite(val_split) and 0 < val_split < 1):
        raise UsageError(
            f"--val-split must be a fraction between 0 and 1 (exclusive), e.g. 0.2."
            f" Received: {val_split}"
        )
    if seed < 0:
        raise UsageError(f"--seed must be 0 or a positive integer. Received: {seed}")
    kind = detect_kind(source)
    if target is not None and kind != "csv":
        raise UsageError(
            f"--target applies only to CSV data; {source} is {_describe_kind(kind)} (drop --target)"
        )
    has_validation, what = _validation_of(kind, source, target, val_split)
    if has_validation and val_split is not None:
        raise UsageError(
            f"--val-split {val_split} does not apply: {source} already has a validation split"
            f" ({what}); drop --val-split"
        )
    if not has_validation and val_split is None:
        raise UsageError(f"{source} has no validation split ({what}); give --val-split, e.g. 0.2")
    return DataSpec(source=source, target=target, val_split=val_split, seed=seed, kind=kind)


def detect_kind(source: str) -> str:
    """One of KINDS, from the file system and the file's first bytes; never from guessing."""
    path = Path(source)
    if path.is_dir():
        return "image-folder"
    if path.is_file():
        return _file_kind(path, source)
    if looks_like_entry_point(source):
        module = source.rpartition(":")[0]
        if module.endswith(".py") and not Path(module).is_file():
            raise BadInputError(f"--data {source!r}: no such file {module!r}")
        return "entry-point"
    if path.exists():
        raise BadInputError(f"{source}: not a regular file or a folder")
    raise BadInputError(f"{source}: no such file or directory (--data takes {_ACCEPTED})")


def _file_kind(path: Path, source: str) -> str:
    suffix = path.suffix.lower()
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as exc:
        raise BadInputError(f"{source}: cannot read ({exc.strerror or exc})") from exc
    if suffix == ".npz" or head.startswith(_ZIP_MAGIC):
        return "npz"
    if suffix == ".npy":
        raise UnknownFormatError(
            f"{source}: a single .npy array holds no labels; save features and labels together"
            " with numpy.savez('data.npz', x_train=..., y_train=..., x_val=..., y_val=...)"
        )
    if suffix in _CSV_SUFFIXES or _looks_like_csv(head):
        return "csv"
    raise UnknownFormatError(f"{source}: not a format --data reads; give {_ACCEPTED}")


def _looks_like_csv(head: bytes) -> bool:
    try:
        first = head.decode("utf-8").splitlines()[0] if head else ""
    except UnicodeDecodeError:
        return False
    return "\x00" not in first and any(d in first for d in ",;\t|")


def _describe_kind(kind: str) -> str:
    return {
        "npz": "an .npz archive",
        "image-folder": "an image folder",
        "entry-point": "a Python entry point",
    }.get(kind, kind)


def _validation_of(
    kind: str, source: str, target: str | None, val_split: float | None
) -> tuple[bool, str]:
    """Whether the data brings its own validation split, and in words which one."""
    if kind == "npz":
        layout = npz.read_layout(Path(source), source, val_split)
        if layout.has_validation:
            return True, f"{layout.keys['x_val']}, {layout.keys['y_val']}"
        return False, f"only {', '.join(layout.keys.values())}"
    if kind == "csv":
        columns, _ = csv_table.read_header(Path(source), source)
        if target is None:
            raise UsageError(
                f"{source}: a CSV needs --target COLUMN to name the label column;"
                f" columns: {', '.join(columns)}"
            )
        csv_table.check_target(columns, target, source)
        split = csv_table.split_column(columns, target)
        if split is not None:
            return True, f"the {split!r} column"
        return False, f"no {csv_table.SPLIT_COLUMN!r} column"
    if kind == "image-folder":
        layout = image_folder.read_layout(Path(source), source)
        if layout.has_validation:
            return True, f"{layout.val_dir.name}/" if layout.val_dir else "val/"
        return False, "no val/ folder"
    return True, "the function returns its own (train, val)"
