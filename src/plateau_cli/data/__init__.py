"""Training data for `resume`, framework-neutral: read it, fit it to the model, check its health.

The order the core uses:

    spec = parse_data_spec(source, target=..., val_split=..., seed=...)  # before any framework
    data = load_data(spec, handle.io_spec())     # arrays adjusted losslessly to the model
    check_fit(data, handle.io_spec())            # DataMismatchError (exit 2) when it cannot feed
    warnings = data_health(data, handle.io_spec())

Nothing here imports TensorFlow, Keras or torch; PIL is imported only to read an image folder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from plateau_cli.data.base import ArraySplit, DataBundle, DataSpec, HealthWarning, Task
from plateau_cli.data.conform import conform
from plateau_cli.data.csv_table import load_csv
from plateau_cli.data.entry_point import load_entry_point
from plateau_cli.data.fit import check_fit
from plateau_cli.data.health import data_health
from plateau_cli.data.image_folder import load_image_folder
from plateau_cli.data.npz import load_npz
from plateau_cli.data.spec import KINDS, parse_data_spec
from plateau_cli.data.task import infer_task

if TYPE_CHECKING:
    from plateau_cli.adapters.base import IOSpec

__all__ = [
    "KINDS",
    "ArraySplit",
    "DataBundle",
    "DataSpec",
    "HealthWarning",
    "Task",
    "check_fit",
    "data_health",
    "infer_task",
    "load_data",
    "parse_data_spec",
]


def load_data(
    spec: DataSpec, io: IOSpec | None, *, image_size: tuple[int, int] | None = None
) -> DataBundle:
    """Read the data `spec` names; with `io`, adjust it losslessly to the model (see conform).

    `image_size` (height, width) sizes images when the model's input does not fix a size.
    """
    if spec.kind is None:
        spec = parse_data_spec(
            spec.source, target=spec.target, val_split=spec.val_split, seed=spec.seed
        )
    return conform(_READERS[spec.kind](spec, io, image_size), io)


#: Every kind `parse_data_spec` can return has a reader (a test checks KINDS against this).
_READERS: dict[str, Callable[[DataSpec, IOSpec | None, tuple[int, int] | None], DataBundle]] = {
    "npz": lambda spec, io, size: load_npz(spec),
    "csv": lambda spec, io, size: load_csv(spec),
    "image-folder": load_image_folder,
    "entry-point": lambda spec, io, size: load_entry_point(spec),
}
