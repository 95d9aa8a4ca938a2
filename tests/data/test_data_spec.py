"""parse_data_spec: the kind of --data and whether its options fit, before any framework loads."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_cli.data import _READERS, KINDS, parse_data_spec
from plateau_cli.errors import BadInputError, UnknownFormatError, UsageError
from tests.data.data_fixtures import image_tree


def parse(source, target=None, val_split=None, seed=0):
    return parse_data_spec(str(source), target=target, val_split=val_split, seed=seed)


@pytest.fixture
def split_npz(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x_train=np.zeros((4, 2)), y_train=np.zeros(4), x_val=np.zeros((2, 2)),
             y_val=np.zeros(2))  # fmt: skip
    return path


@pytest.fixture
def xy_npz(tmp_path):
    path = tmp_path / "xy.npz"
    np.savez(path, x=np.zeros((4, 2)), y=np.zeros(4))
    return path


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,b,label\n1,2,x\n3,4,y\n")
    return path


def test_every_kind_has_a_reader():
    assert set(KINDS) == set(_READERS)


def test_npz_with_validation_split(split_npz):
    spec = parse(split_npz)
    assert (spec.kind, spec.val_split, spec.target) == ("npz", None, None)


def test_npz_with_x_y_needs_val_split(xy_npz):
    with pytest.raises(UsageError, match=r"has no validation split \(only x, y\).*--val-split"):
        parse(xy_npz)
    assert parse(xy_npz, val_split=0.25).val_split == 0.25


def test_val_split_is_refused_where_the_file_has_one(split_npz):
    with pytest.raises(UsageError, match=r"--val-split 0.2 does not apply.*x_val, y_val"):
        parse(split_npz, val_split=0.2)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_val_split_must_be_a_fraction(xy_npz, bad):
    with pytest.raises(UsageError, match=rf"--val-split must be a fraction.*Received: {bad}"):
        parse(xy_npz, val_split=bad)


def test_negative_seed_is_refused(split_npz):
    with pytest.raises(UsageError, match=r"--seed.*Received: -1"):
        parse(split_npz, seed=-1)


def test_target_only_for_csv(split_npz):
    with pytest.raises(UsageError, match=r"--target applies only to CSV data; .* an .npz archive"):
        parse(split_npz, target="label")


def test_csv_requires_target_and_lists_columns(table):
    with pytest.raises(UsageError, match=r"needs --target COLUMN.*columns: a, b, label"):
        parse(table, val_split=0.5)


def test_csv_unknown_target_suggests_close_name(table):
    with pytest.raises(BadInputError, match=r"no column 'Label'; columns: a, b, label.*'label'"):
        parse(table, target="Label", val_split=0.5)


def test_csv_needs_val_split_unless_split_column(table, tmp_path):
    with pytest.raises(UsageError, match=r"no 'split' column.*--val-split"):
        parse(table, target="label")
    assert parse(table, target="label", val_split=0.5).kind == "csv"
    with_split = tmp_path / "with_split.csv"
    with_split.write_text("a,label,split\n1,x,train\n2,y,val\n")
    assert parse(with_split, target="label").kind == "csv"
    with pytest.raises(UsageError, match=r"does not apply.*the 'split' column"):
        parse(with_split, target="label", val_split=0.1)


def test_csv_sniffed_from_content_without_extension(tmp_path):
    path = tmp_path / "table.data"
    path.write_text("a;b;label\n1;2;0\n")
    assert parse(path, target="label", val_split=0.5).kind == "csv"


def test_image_folder_with_and_without_val(tmp_path):
    split = image_tree(tmp_path / "split", {"train": {"a": 1, "b": 1}, "val": {"a": 1, "b": 1}})
    assert parse(split).kind == "image-folder"
    with pytest.raises(UsageError, match=r"already has a validation split \(val/\)"):
        parse(split, val_split=0.2)
    flat = image_tree(tmp_path / "flat", {"": {"a": 2, "b": 2}})
    with pytest.raises(UsageError, match=r"no val/ folder.*--val-split"):
        parse(flat)
    assert parse(flat, val_split=0.5).val_split == 0.5


def test_entry_point_forms(tmp_path):
    script = tmp_path / "make_data.py"
    script.write_text("def load():\n    return None\n")
    assert parse(f"{script}:load").kind == "entry-point"
    assert parse("mypkg.datasets:load").kind == "entry-point"  # imported only when loading
    with pytest.raises(UsageError, match=r"--val-split 0.1 does not apply.*own \(train, val\)"):
        parse("mypkg.datasets:load", val_split=0.1)


def test_entry_point_file_must_exist(tmp_path):
    with pytest.raises(BadInputError, match=r"no such file '.*missing.py'"):
        parse(f"{tmp_path}/missing.py:load")


def test_missing_path(tmp_path):
    with pytest.raises(BadInputError, match=r"nothere.npz: no such file or directory"):
        parse(tmp_path / "nothere.npz")


def test_empty_source():
    with pytest.raises(UsageError, match=r"--data is empty"):
        parse("  ")


def test_npy_gets_a_pointed_message(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(UnknownFormatError, match=r"single .npy array holds no labels.*savez"):
        parse(path)


def test_binary_file_of_unknown_format(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(UnknownFormatError, match=r"blob.bin: not a format --data reads"):
        parse(path)
