"""Image folders: `DIR/train/<class>/*` + `DIR/val/<class>/*`, or `DIR/<class>/*` + --val-split.

Class indices follow the sorted folder names (as Keras' `image_dataset_from_directory` and
torchvision's `ImageFolder` do), so a model trained with either tool sees the same index for
the same class. Images are resized to the model's input size and converted to its channel count
(grayscale, RGB, RGBA), and the notes say how many were (a colour folder is never made grey
without a word). Pixels are scaled as the model's framework feeds them in training: Keras'
`image_dataset_from_directory` yields floats 0..255 (the model rescales itself, with a
`Rescaling` layer or a preprocessing function), torchvision's `ToTensor` yields 0..1; the adapter
says which (`IOSpec.image_max`). The arrays are NHWC float32 and the bundle says so
(`image_layout="NHWC"`), so the torch adapter knows to transpose. An unreadable file is skipped
with a note instead of stopping a long run over one bad JPEG. PIL is imported only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from plateau_cli.data.base import ArraySplit, DataBundle, DataSpec
from plateau_cli.data.split import split_indices
from plateau_cli.errors import BadInputError, DataMismatchError

if TYPE_CHECKING:
    from plateau_cli.adapters.base import IOSpec

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)
_VAL_NAMES = ("val", "validation", "valid")
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
_GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})


def _is_grey(image: Any) -> bool:
    """An RGB file whose three channels are equal loses nothing when read as grayscale."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    return bool(
        np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    )


@dataclass(frozen=True)
class FolderLayout:
    train_dir: Path
    #: None: one level of class folders, split with --val-split.
    val_dir: Path | None
    classes: tuple[str, ...]

    @property
    def has_validation(self) -> bool:
        return self.val_dir is not None


def _subdirs(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_layout(root: Path, source: str) -> FolderLayout:
    """Find the train/val folders and the class folders; no image is opened."""
    top = _subdirs(root)
    vals = [name for name in top if name in _VAL_NAMES]
    if "train" not in top:
        if vals:
            raise BadInputError(f"{source}: has {vals[0]}/ but no train/ folder beside it")
        if not top:
            raise BadInputError(
                f"{source}: no class folders; expected {source}/train/<class>/ and"
                f" {source}/val/<class>/, or {source}/<class>/ with --val-split"
            )
        return _checked(FolderLayout(root, None, tuple(top)), source)
    if len(vals) > 1:
        raise BadInputError(
            f"{source}: both {vals[0]}/ and {vals[1]}/ could be the validation folder; keep one"
        )
    train_dir = root / "train"
    classes = _subdirs(train_dir)
    if not classes:
        raise BadInputError(f"{source}: {train_dir} has no class folders (train/<class>/*.png)")
    if not vals:
        return _checked(FolderLayout(train_dir, None, tuple(classes)), source)
    val_dir = root / vals[0]
    val_classes = _subdirs(val_dir)
    if val_classes != classes:
        only_train = sorted(set(classes) - set(val_classes))
        only_val = sorted(set(val_classes) - set(classes))
        parts = [f"only in train: {', '.join(only_train)}"] if only_train else []
        parts += [f"only in {vals[0]}: {', '.join(only_val)}"] if only_val else []
        raise BadInputError(
            f"{source}: the class folders of train/ and {vals[0]}/ differ ({'; '.join(parts)});"
            " both need the same classes"
        )
    return _checked(FolderLayout(train_dir, val_dir, tuple(classes)), source)


def _checked(layout: FolderLayout, source: str) -> FolderLayout:
    """Refuse a folder of folders without a single image file (a SavedModel, a wrong level)."""
    for name in layout.classes:
        if any(p.suffix.lower() in IMAGE_SUFFIXES for p in (layout.train_dir / name).iterdir()):
            return layout
    shown = ", ".join(f"{c}/" for c in layout.classes[:5])
    raise BadInputError(
        f"{source}: no image files ({', '.join(sorted(IMAGE_SUFFIXES)[:4])}, ...) in the class"
        f" folders {shown}; expected <class>/*.png, is this the right folder?"
    )


def target_geometry(
    io: IOSpec | None, image_size: tuple[int, int] | None
) -> tuple[int | None, int | None, int | None]:
    """(height, width, channels) the model wants; None where it does not say."""
    shape = io.input_shape if io is not None else None
    height = width = channels = None
    if shape is not None and len(shape) == 3:
        if io is not None and not io.channels_last:
            channels, height, width = shape
        else:
            height, width, channels = shape
    elif shape is not None and len(shape) == 2:
        (height, width), channels = shape, 1  # grayscale without a channel axis
    if (height is None or width is None) and image_size is not None:
        height, width = image_size
    if channels is not None and channels not in _MODES:
        raise DataMismatchError(
            f"the model's input has {channels} channels; images can be read as 1 (grayscale),"
            " 3 (RGB) or 4 (RGBA)"
        )
    return height, width, channels


def _list_images(folder: Path, classes: tuple[str, ...]) -> tuple[list[Path], list[int], int]:
    paths: list[Path] = []
    labels: list[int] = []
    ignored = 0
    for index, name in enumerate(classes):
        for path in sorted((folder / name).iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                ignored += 1
                continue
            paths.append(path)
            labels.append(index)
    return paths, labels, ignored


class _Reader:
    """Reads images one by one to a fixed size and mode, remembering what it skipped."""

    def __init__(self, height: int | None, width: int | None, channels: int | None) -> None:
        self.size = (width, height) if height is not None and width is not None else None
        self.mode = _MODES[channels] if channels is not None else None
        self.skipped: list[str] = []
        self.decided: list[str] = []
        #: "HxW" of each original size that had to be resized -> count.
        self.resized: dict[str, int] = {}
        #: Colour images read as grayscale (the model's input has one channel).
        self.greyed = 0

    def read(self, path: Path) -> np.ndarray | None:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                if self.mode is None:
                    grey = image.mode in _GREY_MODES
                    self.mode = "L" if grey else "RGB"
                    self.decided.append(f"channels: {1 if grey else 3} (from {path.name})")
                if self.mode == "L" and image.mode not in _GREY_MODES and not _is_grey(image):
                    self.greyed += 1
                converted = image.convert(self.mode)
                if self.size is None:
                    self.size = converted.size
                    self.decided.append(
                        f"image size {converted.size[1]}x{converted.size[0]} (from {path.name};"
                        " the model does not fix one)"
                    )
                if converted.size != self.size:
                    was = f"{converted.size[1]}x{converted.size[0]}"
                    self.resized[was] = self.resized.get(was, 0) + 1
                    converted = converted.resize(self.size, Image.Resampling.BILINEAR)
                pixels = np.asarray(converted, dtype=np.uint8)
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            self.skipped.append(f"{path}: {exc}")
            return None
        return pixels[..., None] if pixels.ndim == 2 else pixels


def _load(
    reader: _Reader,
    paths: list[Path],
    labels: list[int],
    source: str,
    what: str,
    image_max: float,
) -> ArraySplit:
    images, kept = [], []
    for path, label in zip(paths, labels, strict=True):
        pixels = reader.read(path)
        if pixels is not None:
            images.append(pixels)
            kept.append(label)
    if not images:
        raise BadInputError(f"{source}: no readable images in the {what} folders")
    x = np.stack(images).astype(np.float32)
    if image_max != 255.0:
        x *= np.float32(image_max / 255.0)
    return ArraySplit(x, np.asarray(kept, dtype=np.int64))


def _scale_note(image_max: float, io: IOSpec | None) -> str:
    if image_max == 255.0:
        inside = (
            f"; the model rescales them itself: {io.preprocessing}"
            if io and io.preprocessing
            else ""
        )
        return (
            "pixels fed as floats 0..255, as Keras' image_dataset_from_directory yields them"
            f"{inside}"
        )
    return f"pixels fed as floats 0..{image_max:g} (as torchvision's ToTensor yields them)"


def _conversion_notes(reader: _Reader) -> list[str]:
    notes = []
    if reader.resized and reader.size is not None:
        width, height = reader.size
        shown = ", ".join(f"{count} from {was}" for was, count in sorted(reader.resized.items()))
        notes.append(
            f"resized {sum(reader.resized.values())} image(s) to the model's {height}x{width}"
            f" (bilinear, as image_dataset_from_directory does): {shown}"
        )
    if reader.greyed:
        notes.append(
            f"read {reader.greyed} colour image(s) as grayscale: the model's input has 1 channel"
        )
    return notes


def load_image_folder(
    spec: DataSpec, io: IOSpec | None, image_size: tuple[int, int] | None
) -> DataBundle:
    """Read every image once, resized to the model's input, as NHWC float32 scaled to
    0..`io.image_max` (1 when no model says: torchvision's convention)."""
    layout = read_layout(Path(spec.source), spec.source)
    try:
        reader = _Reader(*target_geometry(io, image_size))
    except DataMismatchError as exc:
        raise DataMismatchError(f"{spec.source}: {exc}") from exc
    image_max = io.image_max if io is not None else 1.0
    paths, labels, ignored = _list_images(layout.train_dir, layout.classes)
    notes: list[str] = []
    if layout.val_dir is not None:
        val_paths, val_labels, ignored_val = _list_images(layout.val_dir, layout.classes)
        ignored += ignored_val
        train = _load(reader, paths, labels, spec.source, "train", image_max)
        val = _load(reader, val_paths, val_labels, spec.source, "val", image_max)
    else:
        if spec.val_split is None:
            raise BadInputError(
                f"{spec.source}: no val/ folder; give --val-split (e.g. 0.2) or add"
                f" {spec.source}/val/<class>/"
            )
        strata = np.asarray(labels, dtype=np.int64)
        train_idx, val_idx = split_indices(
            len(paths), spec.val_split, spec.seed, spec.source, strata
        )
        train = _load(
            reader,
            [paths[i] for i in train_idx],
            strata[train_idx].tolist(),
            spec.source,
            "train",
            image_max,
        )
        val = _load(
            reader,
            [paths[i] for i in val_idx],
            strata[val_idx].tolist(),
            spec.source,
            "validation",
            image_max,
        )
        notes.append(
            f"validation split: {len(val_idx)} of {len(paths)} images"
            f" (--val-split {spec.val_split}, seed {spec.seed})"
        )
    notes.extend(reader.decided)
    notes.append(_scale_note(image_max, io))
    notes.extend(_conversion_notes(reader))
    if reader.skipped:
        notes.append(
            f"skipped {len(reader.skipped)} unreadable image(s); first: {reader.skipped[0]}"
        )
    if ignored:
        notes.append(f"ignored {ignored} file(s) that are not images by their extension")
    return DataBundle(
        train=train,
        val=val,
        format="image-folder",
        source=spec.source,
        class_names=layout.classes,
        notes=tuple(notes),
        source_dtype="uint8",
        image_layout="NHWC",
    )
