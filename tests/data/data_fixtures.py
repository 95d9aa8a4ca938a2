"""Builders shared by the data tests: model I/O specs and small real files made in tmp_path."""

from __future__ import annotations

from pathlib import Path

from plateau_cli.adapters.base import IOSpec
from plateau_cli.data.base import Task


def io_spec(
    input_shape: tuple[int | None, ...] | None = (4,),
    units: int | None = 3,
    activation: str | None = "softmax",
    task: Task | None = None,
    *,
    sparse: bool = True,
    channels_last: bool = True,
) -> IOSpec:
    return IOSpec(
        input_shape=input_shape,
        output_units=units,
        output_activation=activation,
        task=task,
        sparse_labels=sparse,
        channels_last=channels_last,
    )


def write_png(path: Path, size: tuple[int, int] = (10, 8), value: int = 128, mode: str = "RGB"):
    """A real PNG of `size` (width, height) filled with `value` (PIL is imported here only)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value,) * len(mode)
    Image.new(mode, size, color).save(path)
    return path


def image_tree(root: Path, layout: dict[str, dict[str, int]], **png) -> Path:
    """`{"train": {"cat": 3, "dog": 2}, "val": {...}}`; a key "" puts classes at the top level."""
    for split, classes in layout.items():
        for name, count in classes.items():
            for i in range(count):
                write_png(root / split / name / f"{i}.png", value=40 * (i + 1) % 256, **png)
    return root
