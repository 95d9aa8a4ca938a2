"""Reading .npz archives: key spellings, conversions, splits and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_cli.data import DataSpec, load_data, parse_data_spec
from plateau_cli.data.npz import resolve_layout
from plateau_cli.errors import BadInputError, CorruptFileError, DataMismatchError


def load(path, val_split=None, seed=0, io=None):
    spec = parse_data_spec(str(path), target=None, val_split=val_split, seed=seed)
    return load_data(spec, io)


def test_split_archive_is_converted(tmp_path):
    path = tmp_path / "d.npz"
    x = np.arange(24, dtype=np.uint8).reshape(6, 2, 2)
    np.savez(path, x_train=x, y_train=np.arange(6, dtype=np.int32) % 2,
             x_val=x[:2], y_val=np.array([0.5, 1.5]))  # fmt: skip
    data = load(path)
    assert data.format == "npz"
    assert data.source == str(path)
    assert data.train.x.dtype == np.float32
    assert data.train.x.shape == (6, 2, 2)
    assert data.train.y.dtype == np.int64
    assert data.train.y.tolist() == [0, 1, 0, 1, 0, 1]
    assert data.val.y.dtype == np.float32
    assert data.source_dtype == "uint8"
    np.testing.assert_array_equal(data.train.x, x.astype(np.float32))


@pytest.mark.parametrize(
    ("keys", "kind", "chosen"),
    [
        (["X_train", "Y_train", "X_val", "Y_val"], "split", "X_val"),
        (["train_x", "train_y", "valid_x", "valid_y"], "split", "valid_x"),
        (["x_train", "y_train", "x_test", "y_test"], "split", "x_test"),
        (["x_train", "y_train", "x_val", "y_val", "x_test", "y_test"], "split", "x_val"),
        (["x_train", "y_train"], "train-only", None),
        (["X", "y"], "whole", None),
    ],
)
def test_key_spellings(keys, kind, chosen):
    layout = resolve_layout(keys, "d.npz", None)
    assert layout.kind == kind
    if chosen:
        assert layout.keys["x_val"] == chosen


def test_test_arrays_stand_in_for_validation_with_a_note(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=np.zeros((4, 3)), y_train=np.zeros(4, int), x_test=np.ones((2, 3)),
             y_test=np.ones(2, int))  # fmt: skip
    data = load(path)
    assert len(data.val) == 2
    assert data.val.x[0, 0] == 1
    assert any("'x_test'/'y_test' serve as the validation split" in n for n in data.notes)


def test_test_arrays_held_out_when_val_split_given(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=np.zeros((10, 3)), y_train=np.arange(10) % 2, x_test=np.ones((2, 3)),
             y_test=np.ones(2, int))  # fmt: skip
    data = load(path, val_split=0.2)
    assert (len(data.train), len(data.val)) == (8, 2)
    assert (data.val.x == 0).all()  # split from the training arrays, test untouched
    assert any("left unused" in n for n in data.notes)


def test_ambiguous_keys_are_refused():
    with pytest.raises(BadInputError, match=r"'x_train' and 'X_train' could both be x_train"):
        resolve_layout(["x_train", "X_train", "y_train"], "d.npz", None)


def test_missing_key_lists_the_keys_found():
    with pytest.raises(BadInputError, match=r"expected arrays x_train.*found: 'features', 'lab'"):
        resolve_layout(["features", "lab"], "d.npz", None)


def test_half_a_pair_names_what_is_missing():
    with pytest.raises(BadInputError, match=r"has 'x_val' but no 'y_val'.*found: "):
        resolve_layout(["x_train", "y_train", "x_val"], "d.npz", None)


def test_pickled_object_array_is_refused_not_executed(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x_train=np.array([{"a": 1}, None], dtype=object), y_train=np.zeros(2),
             x_val=np.zeros((1, 1)), y_val=np.zeros(1))  # fmt: skip
    with pytest.raises(
        BadInputError, match=r"'x_train' is a pickled object array.*never unpickles"
    ):
        load(path)


def test_string_features_stay_text_for_check_fit_to_judge(tmp_path):
    """A model that takes strings reads them; check_fit refuses them for one that takes numbers
    (tests/data/test_data_text.py)."""
    path = tmp_path / "s.npz"
    np.savez(path, x=np.array([["a", "b"], ["c", "d"]]), y=np.array([0, 1]))
    data = load(path, val_split=0.5)
    assert data.train.x.dtype == np.dtype("<U1")


def test_string_labels_become_sorted_class_indices(tmp_path):
    path = tmp_path / "s.npz"
    np.savez(path, x_train=np.zeros((3, 1)), y_train=np.array(["dog", "cat", "dog"]),
             x_val=np.zeros((2, 1)), y_val=np.array(["emu", "cat"]))  # fmt: skip
    data = load(path)
    assert data.class_names == ("cat", "dog", "emu")
    assert data.train.y.tolist() == [1, 0, 1]
    assert data.val.y.tolist() == [2, 0]


def test_length_mismatch_names_both_numbers(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((5, 2)), y=np.zeros(4))
    with pytest.raises(DataMismatchError, match=r"has 5 feature rows but 4 labels"):
        load(path, val_split=0.2)


def test_not_a_zip(tmp_path):
    path = tmp_path / "d.npz"
    path.write_text("hello")
    with pytest.raises(CorruptFileError, match=r"d.npz: not a readable .npz archive"):
        load(path)


def test_truncated_archive(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.zeros((100, 50)), y_train=np.zeros(100), x_val=np.zeros((10, 50)),
             y_val=np.zeros(10))  # fmt: skip
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(CorruptFileError, match=r"d.npz: "):
        load(path)


def test_x_y_split_is_seeded_and_stratified(tmp_path):
    path = tmp_path / "d.npz"
    y = np.array([0] * 80 + [1] * 20)
    np.savez(path, x=np.arange(100, dtype=np.float32)[:, None], y=y)
    first, again, other = load(path, 0.25, seed=1), load(path, 0.25, seed=1), load(path, 0.25, 2)
    np.testing.assert_array_equal(first.val.x, again.val.x)
    assert not np.array_equal(first.val.x, other.val.x)
    assert np.bincount(first.val.y).tolist() == [20, 5]  # classes keep their shares
    assert sorted(np.concatenate([first.train.x, first.val.x]).ravel()) == list(range(100))
    assert any("validation split: 25 of 100 samples" in n for n in first.notes)


def test_npy_content_under_an_npz_name(tmp_path):
    path = tmp_path / "d.npz"
    with path.open("wb") as handle:
        np.save(handle, np.zeros(3))
    with pytest.raises(CorruptFileError, match=r"single array \(.npy content\), not an .npz"):
        load(path)


def test_load_data_parses_a_spec_built_by_hand(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((10, 2)), y=np.arange(10) % 2)
    data = load_data(DataSpec(str(path), val_split=0.3, seed=1), None)
    assert (len(data.train), len(data.val)) == (7, 3)
    with pytest.raises(BadInputError, match=r"has no validation split .*--val-split"):
        load_data(DataSpec(str(path)), None)
