"""CSV tables: one row per sample, `--target COLUMN` the label, every other column a feature.

Feature columns must be numeric, or all text: a table of text columns (reviews, categories)
is read as strings, for a model that takes strings (`Input(dtype="string")` feeding
TextVectorization or StringLookup), and `check_fit` refuses it for a model that takes numbers.
A text column among numeric ones is refused by name (with an example value) rather than
silently dropped, because dropping it changes what the model sees. Empty cells and
NA/NaN spellings become NaN, which the health check then reports. A text target becomes class
indices in sorted order of its values, so the mapping does not depend on row order.

A column named `split` with values `train`/`val` (also `training`, `valid`, `validation`;
`test` rows are held out) is honoured: people who split their table once want to keep that
split, and `--val-split` is then refused as contradictory. The unnamed index column that
`DataFrame.to_csv` writes by default is recognised (empty header, values 0..n-1) and dropped.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from plateau_cli.data.base import ArraySplit, DataBundle, DataSpec
from plateau_cli.data.split import split_arrays
from plateau_cli.errors import BadInputError, CorruptFileError, DataMismatchError

SPLIT_COLUMN = "split"
_MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
_SPLIT_VALUES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
}


def read_header(path: Path, source: str) -> tuple[list[str], str]:
    """The column names and the delimiter (`,`, `;`, tab or `|`), from the first lines only."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            head = handle.read(64 * 1024)
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"{source}: not a UTF-8 text file, so not a CSV ({exc})") from exc
    except OSError as exc:
        raise BadInputError(f"{source}: cannot read ({exc.strerror or exc})") from exc
    first_line = head.splitlines()[0] if head.strip() else ""
    if not first_line:
        raise BadInputError(f"{source}: the CSV is empty; expected a header row of column names")
    try:
        delimiter = csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    columns = next(csv.reader([first_line], delimiter=delimiter))
    return [c.strip() for c in columns], delimiter


def split_column(columns: list[str], target: str | None) -> str | None:
    """The name of the `split` column, if the table has one (and it is not the target)."""
    for name in columns:
        if name.lower() == SPLIT_COLUMN and name != target:
            return name
    return None


def check_target(columns: list[str], target: str, source: str) -> None:
    """`--target` must name a column; say which columns there are otherwise."""
    if target in columns:
        return
    close = [c for c in columns if c.lower() == target.lower()]
    hint = f"; did you mean {close[0]!r}?" if close else " (use --target COLUMN)"
    raise BadInputError(f"{source}: no column {target!r}; columns: {', '.join(columns)}{hint}")


def load_csv(spec: DataSpec) -> DataBundle:
    """Read the table and build the train and validation arrays."""
    if spec.target is None:
        raise BadInputError(f"{spec.source}: a CSV needs --target COLUMN to name the label column")
    path = Path(spec.source)
    columns, delimiter = read_header(path, spec.source)
    check_target(columns, spec.target, spec.source)
    table = _read_columns(path, spec.source, columns, delimiter)
    n_rows = len(table[0])
    if n_rows == 0:
        raise BadInputError(f"{spec.source}: the CSV has a header but no data rows")
    notes: list[str] = []
    split_name = split_column(columns, spec.target)
    feature_idx = [i for i, name in enumerate(columns) if name not in (spec.target, split_name)]
    if feature_idx and columns[feature_idx[0]] == "" and _is_row_index(table[feature_idx[0]]):
        notes.append("dropped the unnamed index column (as written by DataFrame.to_csv)")
        feature_idx = feature_idx[1:]
    if not feature_idx:
        raise BadInputError(f"{spec.source}: no feature columns besides the target {spec.target!r}")
    x, text_note = _features(table, columns, feature_idx, spec.source)
    if text_note:
        notes.append(text_note)
    y, class_names = _parse_target(table[columns.index(spec.target)], spec.target, spec.source)
    if split_name is not None:
        train, val = _honour_split(x, y, table[columns.index(split_name)], spec.source, notes)
    else:
        if spec.val_split is None:
            raise BadInputError(
                f"{spec.source}: a CSV has no validation rows; give --val-split (e.g. 0.2)"
                f" or add a {SPLIT_COLUMN!r} column with train/val values"
            )
        train, val = split_arrays(x, y, spec.val_split, spec.seed, spec.source)
        notes.append(
            f"validation split: {len(val)} of {n_rows} rows"
            f" (--val-split {spec.val_split}, seed {spec.seed})"
        )
    return DataBundle(
        train=train,
        val=val,
        format="csv",
        source=spec.source,
        class_names=class_names,
        notes=tuple(notes),
        feature_names=tuple(columns[i] for i in feature_idx),
        source_dtype="text",
    )


def _features(
    table: list[tuple[str, ...]], columns: list[str], feature_idx: list[int], source: str
) -> tuple[np.ndarray, str | None]:
    """float32 features; or, when every feature column is text, the strings themselves.

    A text table feeds a model that takes strings (TextVectorization, StringLookup): one text
    column is one string per sample, shape (rows,); several are (rows, columns). `check_fit`
    refuses text for a model that takes numbers. Text mixed with numbers is refused here: one
    input cannot take both.
    """
    features, bad = [], []
    for i in feature_idx:
        values, example = _parse_numbers(table[i])
        if values is None:
            bad.append(f"{columns[i]!r} (e.g. {example!r})")
        else:
            features.append(values)
    if bad and not features:
        texts = np.array([table[i] for i in feature_idx], dtype=str).T
        names = ", ".join(repr(columns[i]) for i in feature_idx)
        return (
            texts[:, 0] if len(feature_idx) == 1 else texts,
            f"text column{'s' if len(feature_idx) > 1 else ''} {names} read as strings",
        )
    if bad:
        raise DataMismatchError(
            f"{source}: non-numeric feature columns: {', '.join(bad)};"
            " encode them as numbers or drop them from the CSV (a model that takes strings"
            " reads a table whose feature columns are all text)"
        )
    return np.stack(features, axis=1).astype(np.float32), None


def _read_columns(
    path: Path, source: str, columns: list[str], delimiter: str
) -> list[tuple[str, ...]]:
    rows: list[list[str]] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        next(reader)
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if len(row) != len(columns):
                raise CorruptFileError(
                    f"{source}: line {reader.line_num} has {len(row)} fields but the header"
                    f" has {len(columns)}"
                )
            rows.append(row)
    if not rows:
        return [() for _ in columns]
    return list(zip(*rows, strict=True))


def _parse_numbers(values: tuple[str, ...]) -> tuple[np.ndarray | None, str | None]:
    """float64 values (missing -> NaN), or None and the first value that is not a number."""
    try:
        return np.array(values, dtype=np.float64), None
    except ValueError:
        pass
    out = np.empty(len(values), dtype=np.float64)
    for i, text in enumerate(values):
        cell = text.strip()
        if cell.lower() in _MISSING:
            out[i] = np.nan
            continue
        try:
            out[i] = float(cell)
        except ValueError:
            return None, text
    return out, None


def _parse_target(
    values: tuple[str, ...], target: str, source: str
) -> tuple[np.ndarray, tuple[str, ...] | None]:
    cells = [v.strip() for v in values]
    empty = [i for i, c in enumerate(cells) if c.lower() in _MISSING]
    if empty:
        raise BadInputError(
            f"{source}: the target column {target!r} is empty in {len(empty)} row(s)"
            f" (first: data row {empty[0] + 1}); fill or drop them"
        )
    numbers, _ = _parse_numbers(tuple(cells))
    if numbers is None:
        names, indices = np.unique(np.array(cells), return_inverse=True)
        return indices.astype(np.int64), tuple(str(n) for n in names)
    if np.array_equal(numbers, np.round(numbers)):
        return numbers.astype(np.int64), None
    return numbers.astype(np.float32), None


def _honour_split(
    x: np.ndarray, y: np.ndarray, values: tuple[str, ...], source: str, notes: list[str]
) -> tuple[ArraySplit, ArraySplit]:
    kinds = np.array([_SPLIT_VALUES.get(v.strip().lower(), "?") for v in values])
    unknown = sorted({v.strip() for v, k in zip(values, kinds, strict=True) if k == "?"})
    if unknown:
        raise BadInputError(
            f"{source}: the {SPLIT_COLUMN!r} column has values {', '.join(map(repr, unknown[:5]))};"
            " expected train or val (or test, held out)"
        )
    n_test = int((kinds == "test").sum())
    if n_test:
        notes.append(f"{n_test} rows marked 'test' held out")
    train, val = kinds == "train", kinds == "val"
    if not val.any() or not train.any():
        missing = "val" if not val.any() else "train"
        raise BadInputError(f"{source}: the {SPLIT_COLUMN!r} column has no {missing!r} rows")
    notes.append(
        f"split from the {SPLIT_COLUMN!r} column: {int(train.sum())} train,"
        f" {int(val.sum())} val rows"
    )
    return ArraySplit(x[train], y[train]), ArraySplit(x[val], y[val])


def _is_row_index(values: tuple[str, ...]) -> bool:
    numbers, _ = _parse_numbers(values)
    return numbers is not None and np.array_equal(numbers, np.arange(len(values)))
