"""`.npz` archives: `x_train, y_train, x_val, y_val`, or `x, y` split with `--val-split`.

For a Keras model with several named inputs or outputs, a role holds one array per name,
stored as `<role>.<name>`: `x_train.pixels`, `x_train.meta`, `y_train.digit`, `y_train.big`
(and `x_val.*`, `y_val.*`, or `x.*`, `y.*` with `--val-split`); see `data.named`.

Keys are matched without regard to case and in the common spellings (`X_train`, `train_x`,
`x_valid`...), but only when exactly one key claims a role: a file holding both `x_train` and
`X_train` is refused rather than guessed at. `x_test, y_test` stand in for the validation split
when there is none (the layout of `keras.datasets` files), with a note saying so.

The file is always opened with `allow_pickle=False`: an object array is pickled Python and can
run code when loaded, so it is refused with a message, never executed. Text needs no pickle:
numpy's own string arrays (`<U..`, what `x.astype(str)` gives) are read as text features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from plateau_cli.data import aligned
from plateau_cli.data import named as by_name
from plateau_cli.data.base import Arrays, ArraySplit, DataBundle, DataSpec
from plateau_cli.data.npz_claims import check_claims
from plateau_cli.data.split import split_arrays
from plateau_cli.errors import BadInputError, CorruptFileError
from plateau_cli.zips import DAMAGED_ZIP_ERRORS

_ALIASES: dict[str, tuple[str, ...]] = {
    "x_train": ("x_train", "train_x", "xtrain"),
    "y_train": ("y_train", "train_y", "ytrain"),
    "x_val": ("x_val", "val_x", "xval", "x_valid", "valid_x", "x_validation", "validation_x"),
    "y_val": ("y_val", "val_y", "yval", "y_valid", "valid_y", "y_validation", "validation_y"),
    "x_test": ("x_test", "test_x", "xtest"),
    "y_test": ("y_test", "test_y", "ytest"),
    "x": ("x",),
    "y": ("y",),
}


@dataclass(frozen=True)
class NpzLayout:
    """Which arrays of the archive play which role."""

    #: "split" (train and val present), "train-only" (x_train/y_train), "whole" (x/y).
    kind: str
    #: role ("x_train", "y_train", "x_val", "y_val", "x", "y") -> the key in the file; for a
    #: role stored by name, a pattern such as "x_train.{meta,pixels}" (for messages).
    keys: dict[str, str]
    note: str | None = None
    #: Roles stored by name (`x_train.pixels`): role -> {input/output name: key in the file}.
    named: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def has_validation(self) -> bool:
        return self.kind == "split"


def read_layout(path: Path, source: str, val_split: float | None) -> NpzLayout:
    """Open the archive's directory only (no array is read) and resolve the roles."""
    try:
        check_claims(path, source)
        # Our own handle: numpy leaks the one it opens when the zip directory is damaged.
        with path.open("rb") as handle:
            loaded = np.load(handle, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise CorruptFileError(
                    f"{source}: holds a single array (.npy content), not an .npz archive;"
                    " save features and labels together with numpy.savez"
                )
            with loaded as archive:
                files = list(archive.files)
    except DAMAGED_ZIP_ERRORS as exc:
        raise CorruptFileError(
            f"{source}: not a readable .npz archive ({exc}); write one with"
            " numpy.savez(path, x_train=..., y_train=..., x_val=..., y_val=...)"
        ) from exc
    return resolve_layout(files, source, val_split)


def resolve_layout(files: list[str], source: str, val_split: float | None) -> NpzLayout:
    """Map the archive's keys to roles, or say which keys were expected and which were found.

    With `--val-split`, a test pair is left alone and the training arrays are split instead:
    that is how people who keep a held-out test set want it.
    """
    found = ", ".join(repr(f) for f in files) or "no arrays"
    groups = _named_groups(files, source)
    roles: dict[str, str] = {}
    for role, aliases in _ALIASES.items():
        matches = [f for f in files if f.lower() in aliases]
        if matches and role in groups:
            raise BadInputError(
                f"{source}: has both {matches[0]!r} and named {role} arrays"
                f" ({', '.join(map(repr, groups[role].values()))}); keep one of them"
            )
        if role in groups:
            roles[role] = f"{role}.{{{','.join(groups[role])}}}"
            continue
        if len(matches) > 1:
            raise BadInputError(
                f"{source}: {' and '.join(repr(m) for m in matches)} could both be {role};"
                " keep one of them"
            )
        if matches:
            roles[role] = matches[0]

    def pair(x_role: str, y_role: str) -> bool:
        if (x_role in roles) != (y_role in roles):
            have, lack = (x_role, y_role) if x_role in roles else (y_role, x_role)
            raise BadInputError(
                f"{source}: has {roles[have]!r} but no {lack!r} to go with it; found: {found}"
            )
        return x_role in roles

    layout = _roles_layout(roles, source, found, val_split, pair)
    named = {role: groups[role] for role in layout.keys if role in groups}
    return replace(layout, named=named) if named else layout


def _named_groups(files: list[str], source: str) -> dict[str, dict[str, str]]:
    """`x_train.pixels`, `x_train.meta` -> {"x_train": {"pixels": ..., "meta": ...}}."""
    groups: dict[str, dict[str, str]] = {}
    for key in files:
        parsed = by_name.split_key(key, _ALIASES)
        if parsed is None:
            continue
        role, name = parsed
        group = groups.setdefault(role, {})
        if name in group:
            raise BadInputError(
                f"{source}: {group[name]!r} and {key!r} could both be {role}.{name};"
                " keep one of them"
            )
        group[name] = key
    return groups


def _roles_layout(
    roles: dict[str, str],
    source: str,
    found: str,
    val_split: float | None,
    pair: Callable[[str, str], bool],
) -> NpzLayout:
    if pair("x_train", "y_train"):
        keys = {"x_train": roles["x_train"], "y_train": roles["y_train"]}
        if pair("x_val", "y_val"):
            return NpzLayout("split", {**keys, "x_val": roles["x_val"], "y_val": roles["y_val"]})
        if pair("x_test", "y_test"):
            if val_split is not None:
                return NpzLayout(
                    "train-only",
                    keys,
                    note=f"{roles['x_test']!r}/{roles['y_test']!r} left unused (held out)",
                )
            return NpzLayout(
                "split",
                {**keys, "x_val": roles["x_test"], "y_val": roles["y_test"]},
                note=f"no validation arrays: {roles['x_test']!r}/{roles['y_test']!r}"
                " serve as the validation split",
            )
        return NpzLayout("train-only", keys)
    if pair("x", "y"):
        return NpzLayout("whole", {"x": roles["x"], "y": roles["y"]})
    raise BadInputError(
        f"{source}: expected arrays x_train, y_train, x_val, y_val (or x, y with --val-split);"
        f" found: {found}"
    )


def load_npz(spec: DataSpec) -> DataBundle:
    """Read the arrays, convert them (features float32 or text, labels int64/float32), split."""
    path = Path(spec.source)
    layout = read_layout(path, spec.source, spec.val_split)
    try:
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
            raw = {role: _read_role(archive, layout, role, spec.source) for role in layout.keys}
    except DAMAGED_ZIP_ERRORS as exc:
        raise CorruptFileError(f"{spec.source}: the archive is damaged ({exc})") from exc
    notes = (layout.note,) if layout.note else ()
    if layout.kind == "split":
        x_train, x_val = raw["x_train"], raw["x_val"]
        source_dtype = by_name.stored_dtype(x_train)
        by_name.check_same_names(x_train, x_val, spec.source, "features")
        by_name.check_rows(x_train, raw["y_train"], spec.source, "training")
        by_name.check_rows(x_val, raw["y_val"], spec.source, "validation")
        y_train, y_val, class_names, label_notes = by_name.labels(
            raw["y_train"],
            raw["y_val"],
            spec.source,
            (_namer(layout, "y_train"), _namer(layout, "y_val")),
        )
        train = ArraySplit(
            by_name.features(x_train, spec.source, _namer(layout, "x_train")), y_train
        )
        val = ArraySplit(by_name.features(x_val, spec.source, _namer(layout, "x_val")), y_val)
    else:
        x_role, y_role = ("x_train", "y_train") if layout.kind == "train-only" else ("x", "y")
        x_all = raw[x_role]
        source_dtype = by_name.stored_dtype(x_all)
        by_name.check_rows(x_all, raw[y_role], spec.source, "whole")
        y_all, _, class_names, label_notes = by_name.labels(
            raw[y_role], None, spec.source, (_namer(layout, y_role),) * 2
        )
        if spec.val_split is None:  # parse_data_spec requires it; a direct caller may not
            raise BadInputError(
                f"{spec.source}: has no validation arrays; give --val-split (e.g. 0.2)"
            )
        train, val = split_arrays(
            by_name.features(x_all, spec.source, _namer(layout, x_role)),
            y_all,
            spec.val_split,
            spec.seed,
            spec.source,
        )
        notes = (
            *notes,
            f"validation split: {len(val)} of {len(train) + len(val)} samples"
            f" (--val-split {spec.val_split}, seed {spec.seed})",
        )
    return DataBundle(
        train=train,
        val=val,
        format="npz",
        source=spec.source,
        class_names=class_names,
        notes=(*notes, *label_notes),
        source_dtype=source_dtype,
    )


def _namer(layout: NpzLayout, role: str) -> by_name.Namer:
    """How messages name the array of `role` (and input/output name, for a named role)."""

    def name(key: str | None) -> str:
        if key is not None and role in layout.named:
            return f"array {layout.named[role][key]!r}"
        return f"array {layout.keys[role]!r}"

    return name


def _read_role(archive: np.lib.npyio.NpzFile, layout: NpzLayout, role: str, source: str) -> Arrays:
    if role in layout.named:
        return {name: _read(archive, key, source) for name, key in layout.named[role].items()}
    return _read(archive, layout.keys[role], source)


def _read(archive: np.lib.npyio.NpzFile, key: str, source: str) -> np.ndarray:
    """The array, read into aligned memory a framework can share (data/aligned.py)."""
    member = f"{key}.npy"
    try:
        if member in archive.zip.namelist():
            with archive.zip.open(member) as stream:
                array = aligned.read_npy(stream)
            if array is not None:
                return array
        return archive[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise BadInputError(
                f"{source}: array {key!r} is a pickled object array; plateau-cli never unpickles"
                " data (it can run code). Save numbers as numbers, e.g."
                f" numpy.savez(..., {key}=numpy.asarray({key}, dtype='float32')), and text as a"
                f" string array: {key}=numpy.asarray({key}).astype(str)"
            ) from exc
        raise CorruptFileError(f"{source}: array {key!r} cannot be read ({exc})") from exc
