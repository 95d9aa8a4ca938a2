"""check_fit: data that cannot feed the model is refused with the numbers in one line."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_cli.data import ArraySplit, DataBundle, Task, check_fit
from plateau_cli.errors import DataMismatchError
from tests.data.data_fixtures import io_spec


def bundle(x, y, xv=None, yv=None, **kw):
    xv = x if xv is None else xv
    yv = y if yv is None else yv
    return DataBundle(
        ArraySplit(np.asarray(x), np.asarray(y)),
        ArraySplit(np.asarray(xv), np.asarray(yv)),
        format="npz",
        source="data.npz",
        **kw,
    )


X = np.zeros((4, 4), dtype=np.float32)


def test_fitting_data_passes():
    check_fit(bundle(X, [0, 1, 2, 0]), io_spec((4,), units=3))
    check_fit(bundle(X, [0, 1, 1, 0]), io_spec((None,), units=1, activation="sigmoid"))
    check_fit(bundle(X, np.zeros((4, 2))), io_spec((4,), units=2, activation=None))


def test_label_beyond_output_units_quotes_the_numbers():
    with pytest.raises(DataMismatchError) as caught:
        check_fit(bundle(X, [0, 12, 3, 1]), io_spec((4,), units=10))
    assert str(caught.value) == (
        "data.npz: labels go up to 12 but the model has 10 output units (labels must be 0..9)"
    )


def test_validation_labels_are_checked_too():
    with pytest.raises(DataMismatchError, match=r"validation labels go up to 3 .* 3 output units"):
        check_fit(bundle(X, [0, 1, 2, 0], yv=[0, 3, 0, 0]), io_spec((4,), units=3))


def test_negative_labels():
    with pytest.raises(
        DataMismatchError, match=r"labels go down to -1 but class labels start at 0"
    ):
        check_fit(bundle(X, [0, -1, 2, 0]), io_spec((4,), units=3))


def test_feature_shape_mismatch_names_both_shapes():
    with pytest.raises(DataMismatchError) as caught:
        check_fit(bundle(np.zeros((4, 20)), [0, 1, 2, 0]), io_spec((None, 784), units=3))
    assert str(caught.value) == (
        "data.npz: features have shape (20,) per sample but the model's input is (None, 784)"
    )


def test_shape_hints_for_layout_and_flattening():
    nhwc = np.zeros((2, 8, 8, 3), dtype=np.float32)
    with pytest.raises(DataMismatchError, match=r"channels-last, the model channels-first: x.tra"):
        check_fit(bundle(nhwc, [0, 1]), io_spec((3, 8, 8), units=2, channels_last=False))
    with pytest.raises(DataMismatchError, match=r"same number of values: reshape to \(2, 192\)"):
        check_fit(bundle(nhwc, [0, 1]), io_spec((192,), units=2))


def test_image_folder_layout_is_translated_for_channels_first_models():
    nhwc = np.zeros((2, 8, 6, 1), dtype=np.float32)
    io = io_spec((1, 8, 6), units=2, channels_last=False)
    check_fit(bundle(nhwc, [0, 1], image_layout="NHWC"), io)
    with pytest.raises(DataMismatchError, match=r"\(8, 6, 1\) per sample .* input is \(1, 8, 6\)"):
        check_fit(bundle(nhwc, [0, 1]), io)  # arrays as given are not transposed


def test_string_features_and_object_labels():
    with pytest.raises(DataMismatchError, match=r"training features hold strings \(dtype <U1\)"):
        check_fit(bundle(np.array([["a"], ["b"]]), [0, 1]), io_spec((1,), units=2))
    labels = np.array([0, None], dtype=object)
    with pytest.raises(DataMismatchError, match=r"training labels hold Python objects"):
        check_fit(bundle(np.zeros((2, 1)), labels), io_spec((1,), units=2))


def test_non_integral_labels_for_a_classifier():
    with pytest.raises(DataMismatchError, match=r"labels are not whole numbers \(e.g. 0.5\) but the"
                       r" model is a classifier; class labels must be integers 0..2"):  # fmt: skip
        check_fit(bundle(X, [0.0, 0.5, 1.0, 2.0]), io_spec((4,), units=3))


def test_nan_label_for_a_classifier():
    with pytest.raises(DataMismatchError, match=r"not whole numbers \(e.g. nan\)"):
        check_fit(bundle(X, [0.0, np.nan, 1.0, 2.0]), io_spec((4,), units=3))


def test_one_hot_width_must_equal_units():
    with pytest.raises(
        DataMismatchError, match=r"one-hot with 4 columns but the model has 3 output"
    ):
        check_fit(bundle(X, np.eye(4)), io_spec((4,), units=3, sparse=False))
    check_fit(bundle(X, np.eye(3)[[0, 1, 2, 0]]), io_spec((4,), sparse=False))


def test_one_hot_for_a_sparse_loss_and_indices_for_a_categorical_one():
    with pytest.raises(DataMismatchError, match=r"one-hot \(3 columns\) .* y.argmax\(axis=1\)"):
        check_fit(bundle(X, np.eye(3)[[0, 1, 2, 0]]), io_spec((4,), units=3, sparse=True))
    with pytest.raises(
        DataMismatchError, match=r"class indices but the model's loss expects one-hot"
    ):
        check_fit(bundle(X, [0, 1, 2, 0]), io_spec((4,), units=3, sparse=False))


def test_binary_needs_one_unit_and_zero_one_labels():
    io = io_spec((4,), units=1, activation="sigmoid")
    with pytest.raises(DataMismatchError, match=r"must be 0 or 1 for a binary classifier; found 2"):
        check_fit(bundle(X, [0, 1, 2, 1]), io)
    with pytest.raises(
        DataMismatchError, match=r"have 2 column\(s\) per sample but the model has 1"
    ):
        check_fit(bundle(X, np.eye(2)[[0, 1, 1, 0]]), io)
    check_fit(bundle(X, np.array([[0.0], [1.0], [1.0], [0.0]])), io)


def test_binary_task_from_the_loss_with_two_units():
    with pytest.raises(DataMismatchError, match=r"1 column\(s\) per sample but the model has 2"):
        check_fit(bundle(X, [0, 1, 1, 0]), io_spec((4,), units=2, task=Task.BINARY))


def test_regression_targets_vs_outputs():
    io = io_spec((4,), units=1, activation=None, task=Task.REGRESSION)
    check_fit(bundle(X, [0.1, 2.5, 3.0, 4.0]), io)
    check_fit(bundle(X, np.ones((4, 1))), io)
    with pytest.raises(DataMismatchError, match=r"have 3 value\(s\) per sample \(shape"
                       r" \(3,\)\) but the model has 1 output unit"):  # fmt: skip
        check_fit(bundle(X, np.ones((4, 3))), io)


def test_length_mismatch_and_empty_splits():
    with pytest.raises(DataMismatchError, match=r"training split has 4 feature rows but 3 labels"):
        check_fit(bundle(X, [0, 1, 2]), io_spec())
    empty = np.zeros((0, 4), dtype=np.float32)
    with pytest.raises(DataMismatchError, match=r"the validation split is empty"):
        check_fit(bundle(X, [0, 1, 2, 0], empty, np.zeros(0, dtype=np.int64)), io_spec())


def test_unknown_model_dims_skip_only_what_is_unknown():
    io = io_spec(None, units=None, activation=None)
    check_fit(bundle(X, [0, 7, 9, 1]), io)
    with pytest.raises(DataMismatchError, match=r"training features hold Python objects"):
        check_fit(bundle(np.array([[None]] * 4, dtype=object), [0, 1, 2, 3]), io)
