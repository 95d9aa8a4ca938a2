"""The class count from the user's `--data`, when diagnose is given it: better than any guess.

A log rarely says how many classes there are, and a wrong count turns a slow 10-class run at
35 % into a false chance-level verdict. `--data` names the training data; its labels settle the
question. Reading it must never break a diagnosis: anything unreadable gives a note instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DataClasses:
    count: int | None
    note: str | None


def classes_from_data(source: str) -> DataClasses:
    """The number of classes in the labels of `source` (an --data value), or a note why not."""
    from plateau_cli.data import load_data, parse_data_spec
    from plateau_cli.data.task import class_labels
    from plateau_cli.errors import PlateauError

    try:
        spec = parse_data_spec(source, target=None, val_split=None, seed=0)
        if spec.kind == "entry-point":
            return DataClasses(None, None)  # running user code only to count classes: no
        bundle = load_data(spec, None)
    except (PlateauError, OSError, ValueError) as exc:
        return DataClasses(None, f"--data {source}: not read for the class count ({exc})")
    if bundle.class_names:
        return DataClasses(len(bundle.class_names), None)
    if not bundle.is_arrays:
        return DataClasses(None, None)
    labels = class_labels(np.asarray(bundle.train.y))
    if labels is None or labels.size == 0:
        return DataClasses(None, None)  # regression targets: no classes to count
    count = int(max(int(labels.max()) + 1, np.unique(labels).size))
    return DataClasses(count if count >= 2 else None, None)
