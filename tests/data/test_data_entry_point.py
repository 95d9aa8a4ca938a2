"""`--data path/file.py:function`: arrays are converted, framework datasets pass through."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from plateau_cli.data import check_fit, data_health, load_data, parse_data_spec
from plateau_cli.errors import BadInputError, DataMismatchError
from tests.data.data_fixtures import io_spec


def load(tmp_path, body, io=None):
    script = tmp_path / "make_data.py"
    script.write_text("import numpy as np\n\n" + textwrap.dedent(body))
    spec = parse_data_spec(f"{script}:load", target=None, val_split=None, seed=0)
    return load_data(spec, io)


def test_numpy_pairs_become_array_splits(tmp_path):
    data = load(
        tmp_path,
        """
        def load():
            x = np.arange(12, dtype=np.int16).reshape(6, 2)
            return (x[:4], np.array([0, 1, 0, 1])), [x[4:], np.array(["1", "0"]).astype(int)]
        """,
    )
    assert data.format == "entry-point"
    assert data.is_arrays
    assert data.framework is None
    assert data.train.x.dtype == np.float32
    assert data.train.y.dtype == np.int64
    assert data.source_dtype == "int16"
    assert data.val.x.tolist() == [[8.0, 9.0], [10.0, 11.0]]


def test_string_labels_share_one_class_list(tmp_path):
    data = load(
        tmp_path,
        """
        def load():
            return (np.zeros((2, 1)), np.array(["b", "a"])), (np.zeros((1, 1)), np.array(["c"]))
        """,
    )
    assert data.class_names == ("a", "b", "c")
    assert data.train.y.tolist() == [1, 0]
    assert data.val.y.tolist() == [2]


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ("42", r"returned int; expected a \(train, val\) pair"),
        ("(1, 2, 3)", r"returned a tuple of 3: \(int, int, int\); expected a \(train, val\)"),
        ("({'x': 1}, None)", r"the training part is dict; expected an \(x, y\) pair of numpy"),
        ("((np.zeros(3), [1, 2, 3]), (np.zeros(3), np.zeros(3)))",
         r"the training part is a tuple of 2: \(numpy.ndarray, a list of 3: \(int, int, int\)\)"),
    ],
)  # fmt: skip
def test_wrong_return_values_say_what_came_back(tmp_path, returned, message):
    with pytest.raises(BadInputError, match=message):
        load(tmp_path, f"def load():\n    return {returned}\n")


def test_object_arrays_are_a_data_mismatch(tmp_path):
    body = """
        def load():
            x = np.array([None, 1], dtype=object)
            return (x, np.zeros(2)), (x, np.zeros(2))
        """
    with pytest.raises(
        DataMismatchError, match=r"the training x array holds Python objects \(dtype object\)"
    ):
        load(tmp_path, body)


def test_function_raising_becomes_one_line(tmp_path):
    with pytest.raises(BadInputError, match=r"it raised FileNotFoundError: no shards"):
        load(tmp_path, "def load():\n    raise FileNotFoundError('no shards')\n")


def test_length_mismatch(tmp_path):
    body = """
        def load():
            return (np.zeros((3, 2)), np.zeros(2)), (np.zeros((1, 2)), np.zeros(1))
        """
    with pytest.raises(DataMismatchError, match=r"training split has 3 feature rows but 2 labels"):
        load(tmp_path, body)


@pytest.mark.torch
def test_torch_dataloader_passes_through_and_first_batch_is_checked(tmp_path):
    pytest.importorskip("torch")
    body = """
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        def load():
            x = torch.randn(10, 4)
            train = DataLoader(TensorDataset(x, torch.arange(10) % 3), batch_size=4)
            val = TensorDataset(x[:3], torch.tensor([0, 1, 5]))
            return train, val
        """
    data = load(tmp_path, body)
    assert not data.is_arrays
    assert data.framework == "torch"
    assert type(data.train).__name__ == "DataLoader"
    assert type(data.val).__name__ == "TensorDataset"
    check_fit(data, io_spec((4,), units=6))
    with pytest.raises(DataMismatchError, match=r"validation labels in the first batch go up to 5"
                       r" but the model has 3 output units"):  # fmt: skip
        check_fit(data, io_spec((4,), units=3))
    with pytest.raises(DataMismatchError, match=r"features have shape \(4,\) per sample but the"
                       r" model's input is \(5,\)"):  # fmt: skip
        check_fit(data, io_spec((5,), units=6))
    assert data_health(data, io_spec((4,), units=6)) == []


@pytest.mark.keras
def test_tf_data_dataset_passes_through(tmp_path):
    pytest.importorskip("torch")  # torch before TensorFlow in one process
    pytest.importorskip("tensorflow")
    body = """
        import tensorflow as tf

        def load():
            x = np.full((8, 3), 300.0, dtype="float32")
            y = np.arange(8) % 2
            train = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
            val = tf.data.Dataset.from_tensor_slices((x[:2], y[:2]))
            return train, val
        """
    data = load(tmp_path, body)
    assert data.framework == "tensorflow"
    assert "Dataset" in type(data.train).__name__
    io = io_spec((3,), units=1, activation="sigmoid")
    check_fit(data, io)
    with pytest.raises(DataMismatchError, match=r"features have shape \(3,\) per sample"):
        check_fit(data, io_spec((2,), units=1, activation="sigmoid"))
    warnings = data_health(data, io)
    assert [w.id for w in warnings] == ["unnormalised-inputs"]
    assert warnings[0].evidence["first_batch_only"] is True
    assert warnings[0].evidence["samples"] == 4
