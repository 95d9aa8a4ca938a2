"""infer_task, the seeded split, and the lossless adjustments load_data makes for the model."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_cli.data import ArraySplit, DataBundle, Task, check_fit, infer_task
from plateau_cli.data.conform import conform
from plateau_cli.data.split import split_indices
from plateau_cli.errors import BadInputError
from tests.data.data_fixtures import io_spec

INTS = np.array([0, 2, 1])


@pytest.mark.parametrize(
    ("y", "io", "task"),
    [
        (INTS, io_spec(units=3, activation="softmax"), Task.CLASSIFICATION),
        (INTS, io_spec(units=3, activation=None), Task.CLASSIFICATION),  # logits + CE
        (INTS.astype(float), io_spec(units=3, activation="linear"), Task.CLASSIFICATION),
        (np.array([0.5, 0.2]), io_spec(units=3, activation="softmax"), Task.CLASSIFICATION),
        (np.array([0, 1]), io_spec(units=1, activation="sigmoid"), Task.BINARY),
        (np.array([0, 1]), io_spec(units=1, activation=None), Task.REGRESSION),
        (np.ones((2, 3)), io_spec(units=3, activation=None), Task.REGRESSION),
        (np.array([0.5, 1.5]), io_spec(units=3, activation=None), Task.REGRESSION),
        (INTS, io_spec(units=3, activation=None, task=Task.REGRESSION), Task.REGRESSION),
        (INTS, None, Task.CLASSIFICATION),
        (np.eye(3), None, Task.CLASSIFICATION),
        (np.array([0.5, 1.5]), None, Task.REGRESSION),
        (None, io_spec(units=4, activation=None), Task.REGRESSION),
    ],
)
def test_infer_task(y, io, task):
    assert infer_task(y, io) is task


def test_split_is_deterministic_sorted_and_complete():
    train, val = split_indices(50, 0.2, seed=3, source="d")
    again = split_indices(50, 0.2, seed=3, source="d")
    np.testing.assert_array_equal(val, again[1])
    assert len(val) == 10
    assert (np.diff(train) > 0).all()
    assert sorted([*train, *val]) == list(range(50))


def test_stratified_split_keeps_rare_classes_in_both_sides():
    labels = np.array([0] * 90 + [1] * 8 + [2] * 2)
    train, val = split_indices(100, 0.1, seed=0, source="d", strata=labels)
    assert np.bincount(labels[val], minlength=3).tolist() == [9, 1, 0]
    assert set(labels[train]) == {0, 1, 2}  # a class of 2 keeps at least one for training
    _, val_half = split_indices(100, 0.5, seed=0, source="d", strata=labels)
    assert np.bincount(labels[val_half], minlength=3).tolist() == [45, 4, 1]


def test_split_with_mostly_unique_strata_falls_back_to_random():
    train, val = split_indices(20, 0.25, seed=0, source="d", strata=np.arange(20))
    assert (len(train), len(val)) == (15, 5)


def test_split_needs_two_samples():
    with pytest.raises(BadInputError, match=r"d: 1 sample\(s\) cannot be split .* at least 2"):
        split_indices(1, 0.5, seed=0, source="d")


def test_split_always_leaves_one_on_each_side():
    assert [len(part) for part in split_indices(3, 0.01, 0, "d")] == [2, 1]
    assert [len(part) for part in split_indices(3, 0.99, 0, "d")] == [1, 2]


def bundle(x, y, xv=None, yv=None):
    return DataBundle(
        ArraySplit(np.asarray(x), np.asarray(y)),
        ArraySplit(np.asarray(x if xv is None else xv), np.asarray(y if yv is None else yv)),
        format="npz",
        source="data.npz",
    )


def test_missing_channel_axis_is_added():
    data = conform(bundle(np.zeros((3, 28, 28)), [0, 1, 2]), io_spec((28, 28, 1), units=3))
    assert data.train.x.shape == (3, 28, 28, 1)
    assert data.val.x.shape == (3, 28, 28, 1)
    assert any("reshaped from (28, 28) to (28, 28, 1)" in n for n in data.notes)
    channels_first = io_spec((1, 28, 28), units=3, channels_last=False)
    assert conform(bundle(np.zeros((3, 28, 28)), [0, 1, 2]), channels_first).train.x.shape == (
        3, 1, 28, 28,
    )  # fmt: skip


def test_single_feature_vector_gets_its_axis():
    data = conform(bundle(np.zeros(4), [0.0, 1.0, 2.0, 3.0]), io_spec((1,), 1, None))
    assert data.train.x.shape == (4, 1)


def test_unrelated_shapes_are_left_for_check_fit():
    data = bundle(np.zeros((3, 5)), [0, 1, 2])
    assert conform(data, io_spec((6,), units=3)) is data


def test_one_hot_labels_for_a_sparse_loss_become_indices():
    data = conform(bundle(np.zeros((3, 4)), np.eye(3)), io_spec((4,), units=3, sparse=True))
    assert data.train.y.tolist() == [0, 1, 2]
    assert data.train.y.dtype == np.int64
    check_fit(data, io_spec((4,), units=3, sparse=True))


def test_indices_for_a_categorical_loss_become_one_hot():
    io = io_spec((4,), units=4, sparse=False)
    data = conform(bundle(np.zeros((3, 4)), [0, 3, 1]), io)
    assert data.train.y.tolist() == np.eye(4)[[0, 3, 1]].tolist()
    check_fit(data, io)
    out_of_range = bundle(np.zeros((3, 4)), [0, 7, 1])
    assert conform(out_of_range, io) is out_of_range  # left for check_fit to refuse


def test_whole_number_floats_become_class_indices():
    data = conform(bundle(np.zeros((3, 4)), [0.0, 2.0, 1.0]), io_spec((4,), units=3))
    assert data.train.y.dtype == np.int64
    assert any("whole-number float labels" in n for n in data.notes)


def test_integer_targets_become_float_for_regression():
    io = io_spec((4,), units=1, activation=None, task=Task.REGRESSION)
    data = conform(bundle(np.zeros((3, 4)), [3, 5, 8]), io)
    assert data.train.y.dtype == np.float32


def test_no_model_means_no_change():
    data = bundle(np.zeros((3, 28, 28)), [0, 1, 2])
    assert conform(data, None) is data
