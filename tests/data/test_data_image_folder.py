"""Image folders: real PNGs made with PIL, resized and converted to the model's input."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_cli.data import check_fit, load_data, parse_data_spec
from plateau_cli.errors import BadInputError, DataMismatchError
from tests.data.data_fixtures import image_tree, io_spec, write_png


def load(root, io=None, val_split=None, image_size=None):
    spec = parse_data_spec(str(root), target=None, val_split=val_split, seed=0)
    return load_data(spec, io, image_size=image_size)


def test_train_val_folders_resized_to_the_model_input(tmp_path):
    root = image_tree(
        tmp_path / "imgs", {"train": {"cat": 3, "dog": 2}, "val": {"cat": 1, "dog": 1}}
    )
    io = io_spec((6, 5, 3), units=2)
    data = load(root, io)
    assert data.format == "image-folder"
    assert data.class_names == ("cat", "dog")
    assert data.train.x.shape == (5, 6, 5, 3)
    assert data.train.x.dtype == np.float32
    assert data.train.y.tolist() == [0, 0, 0, 1, 1]
    assert data.val.y.tolist() == [0, 1]
    assert data.image_layout == "NHWC"
    assert data.source_dtype == "uint8"
    # Filled with 40, 80, 120: scaled to [0, 1] (bilinear resize keeps a flat colour).
    assert data.train.x[:3, 0, 0, 0] == pytest.approx([40 / 255, 80 / 255, 120 / 255])
    check_fit(data, io)


def test_channels_first_model_still_gets_nhwc_and_fits(tmp_path):
    root = image_tree(tmp_path / "imgs", {"train": {"a": 2, "b": 2}, "val": {"a": 1, "b": 1}})
    io = io_spec((1, 7, 9), units=2, channels_last=False)
    data = load(root, io)
    assert data.train.x.shape == (4, 7, 9, 1)  # H=7, W=9, grey; the torch adapter transposes
    check_fit(data, io)


def test_grayscale_images_to_rgb_model(tmp_path):
    root = image_tree(
        tmp_path / "imgs", {"train": {"a": 1, "b": 1}, "val": {"a": 1, "b": 1}}, mode="L"
    )
    data = load(root, io_spec((8, 10, 3), units=2))
    assert data.train.x.shape == (2, 8, 10, 3)
    assert (data.train.x[..., 0] == data.train.x[..., 2]).all()


def test_model_without_channel_axis_gets_one_removed(tmp_path):
    root = image_tree(tmp_path / "imgs", {"train": {"a": 1, "b": 1}, "val": {"a": 1, "b": 1}})
    io = io_spec((4, 4), units=2)
    data = load(root, io)
    assert data.train.x.shape == (2, 4, 4)
    check_fit(data, io)


def test_size_from_image_size_argument_or_first_image(tmp_path):
    root = image_tree(tmp_path / "imgs", {"train": {"a": 1, "b": 1}, "val": {"a": 1, "b": 1}})
    data = load(root, io_spec((None, None, 3), units=2), image_size=(3, 4))
    assert data.train.x.shape == (2, 3, 4, 3)
    data = load(root, None)
    assert data.train.x.shape == (2, 8, 10, 3)  # write_png makes 10 wide, 8 high
    assert any("image size 8x10" in n for n in data.notes)


def test_flat_class_folders_with_val_split(tmp_path):
    root = image_tree(tmp_path / "imgs", {"": {"a": 4, "b": 4}})
    data = load(root, io_spec((8, 10, 3), units=2), val_split=0.25)
    assert (len(data.train), len(data.val)) == (6, 2)
    assert sorted(data.val.y.tolist()) == [0, 1]  # stratified


def test_unreadable_image_is_skipped_with_a_note(tmp_path):
    root = image_tree(tmp_path / "imgs", {"train": {"a": 2, "b": 2}, "val": {"a": 1, "b": 1}})
    (root / "train" / "a" / "broken.png").write_bytes(b"not a png")
    (root / "train" / "b" / "README.txt").write_text("notes")
    data = load(root, io_spec((8, 10, 3), units=2))
    assert len(data.train) == 4
    assert any("skipped 1 unreadable image(s); first: " in n and "broken.png" in n
               for n in data.notes)  # fmt: skip
    assert any("ignored 1 file(s)" in n for n in data.notes)


def test_class_folders_must_match(tmp_path):
    root = image_tree(tmp_path / "imgs", {"train": {"a": 1, "b": 1}, "val": {"a": 1, "c": 1}})
    with pytest.raises(BadInputError, match=r"differ \(only in train: b; only in val: c\)"):
        load(root)


def test_val_without_train(tmp_path):
    root = image_tree(tmp_path / "imgs", {"val": {"a": 1}})
    with pytest.raises(BadInputError, match=r"has val/ but no train/"):
        load(root)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match=r"no class folders; expected .*/train/<class>/"):
        load(tmp_path / "empty")


def test_no_readable_images(tmp_path):
    root = tmp_path / "imgs"
    for split in ("train", "val"):
        (root / split / "a").mkdir(parents=True)
        (root / split / "a" / "x.png").write_bytes(b"junk")
    with pytest.raises(BadInputError, match=r"no readable images in the train folders"):
        load(root)


def test_unsupported_channel_count(tmp_path):
    root = image_tree(tmp_path / "imgs", {"train": {"a": 1}, "val": {"a": 1}})
    with pytest.raises(DataMismatchError, match=r"input has 2 channels; images can be read as 1"):
        load(root, io_spec((8, 8, 2), units=1))


def test_rgba_source_to_grey_model(tmp_path):
    root = tmp_path / "imgs"
    for split in ("train", "val"):
        write_png(root / split / "a" / "0.png", mode="RGBA", value=200)
    data = load(root, io_spec((5, 5, 1), units=1, activation="sigmoid"))
    assert data.train.x.shape == (1, 5, 5, 1)
    assert float(data.train.x.max()) <= 1.0


def test_folder_of_folders_without_images(tmp_path):
    root = tmp_path / "saved_model"
    (root / "variables").mkdir(parents=True)
    (root / "variables" / "variables.index").write_bytes(b"\x00")
    (root / "assets").mkdir()
    with pytest.raises(BadInputError, match=r"no image files \(.*\) in the class folders assets/,"
                       r" variables/; expected <class>/\*.png"):  # fmt: skip
        load(root, val_split=0.2)


def test_train_folder_alone_is_split_with_val_split(tmp_path):
    root = image_tree(tmp_path / "imgs", {"train": {"a": 3, "b": 3}})
    with pytest.raises(BadInputError, match=r"no validation split \(no val/ folder\)"):
        load(root)
    data = load(root, io_spec((8, 10, 3), units=2), val_split=0.34)
    assert (len(data.train), len(data.val)) == (4, 2)
    assert sorted(data.val.y.tolist()) == [0, 1]
