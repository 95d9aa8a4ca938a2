"""Text features for models that take strings: read as text, accepted only by a string input.

The model's input dtype decides: a string input takes the strings as they are, a numeric input
refuses them (and a string input refuses numbers), each in one line. No framework here: the
model is an `IOSpec` with `string_inputs=True`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from plateau_cli.auto.evidence import Evidence
from plateau_cli.auto.rules import choose
from plateau_cli.data import check_fit, data_health, load_data, parse_data_spec
from plateau_cli.data.fit import first_batch
from plateau_cli.errors import BadInputError, DataMismatchError
from tests.data.data_fixtures import io_spec

SENTENCES = np.array(["the cat sat", "a red dog", "blue sky", "fish swim", "a cat ran", "red sun"])
LABELS = np.array([0, 1, 1, 2, 0, 1])


def text_io(shape=(1,)):
    return dataclasses.replace(io_spec(shape, units=3), string_inputs=True)


def write_npz(path, x_train=SENTENCES, x_val=SENTENCES[:3]):
    np.savez(path, x_train=x_train, y_train=LABELS[: len(x_train)], x_val=x_val,
             y_val=LABELS[: len(x_val)])  # fmt: skip
    return path


def load(path, io=None, target=None, val_split=None):
    spec = parse_data_spec(str(path), target=target, val_split=val_split, seed=0)
    return load_data(spec, io)


def test_npz_strings_are_read_as_text_without_pickle(tmp_path):
    data = load(write_npz(tmp_path / "t.npz"))
    assert data.train.x.dtype.kind == "U"
    assert data.train.x.tolist() == SENTENCES.tolist()
    assert data.train.y.dtype == np.int64


def test_one_string_per_sample_gets_the_models_axis_and_fits(tmp_path):
    data = load(write_npz(tmp_path / "t.npz"), text_io())
    assert data.train.x.shape == (6, 1)
    assert data.val.x.shape == (3, 1)
    assert "features reshaped from () to (1,)" in " ".join(data.notes)
    check_fit(data, text_io())


def test_a_numeric_model_refuses_strings_in_one_line(tmp_path):
    data = load(write_npz(tmp_path / "t.npz"))
    with pytest.raises(DataMismatchError) as caught:
        check_fit(data, io_spec((1,), units=3))
    message = str(caught.value)
    assert "training features hold strings (dtype <U11); the model needs numbers" in message
    assert "\n" not in message


def test_a_string_model_refuses_numbers(tmp_path):
    path = tmp_path / "n.npz"
    np.savez(path, x_train=np.zeros((4, 1)), y_train=np.zeros(4, dtype=int),
             x_val=np.zeros((2, 1)), y_val=np.zeros(2, dtype=int))  # fmt: skip
    with pytest.raises(DataMismatchError, match=r"hold numbers \(dtype float32\) but the model"
                       r" takes strings"):  # fmt: skip
        check_fit(load(path), text_io())


def test_object_arrays_are_refused_with_the_string_fix_and_never_unpickled(tmp_path):
    path = write_npz(tmp_path / "o.npz", x_train=SENTENCES.astype(object))
    with pytest.raises(BadInputError) as caught:
        load(path, text_io())
    message = str(caught.value)
    assert "'x_train' is a pickled object array" in message
    assert "x_train=numpy.asarray(x_train).astype(str)" in message


@pytest.mark.skipif(not hasattr(np.dtypes, "StringDType"), reason="numpy 2's StringDType")
def test_variable_width_strings_from_an_entry_point_become_fixed_width(tmp_path):
    module = tmp_path / "texts.py"
    module.write_text(
        "import numpy as np\n"
        "def load():\n"
        "    x = np.array(['good film', 'bad film', 'fine'], dtype=np.dtypes.StringDType())\n"
        "    return (x, np.array([1, 0, 1])), (x[:2], np.array([1, 0]))\n"
    )
    data = load(f"{module}:load", text_io())
    assert data.train.x.dtype.kind == "U"
    assert data.train.x[:, 0].tolist() == ["good film", "bad film", "fine"]
    check_fit(data, text_io())


def test_csv_text_column_is_read_as_strings(tmp_path):
    path = tmp_path / "reviews.csv"
    rows = [f'"{s}, really",{label}' for s, label in zip(SENTENCES, LABELS, strict=True)]
    path.write_text("review,label\n" + "\n".join(rows) + "\n")
    data = load(path, text_io(), target="label", val_split=0.5)
    assert data.train.x.dtype.kind == "U"
    assert data.train.x.shape == (3, 1)
    every = sorted(np.concatenate([data.train.x, data.val.x])[:, 0].tolist())
    assert every == sorted(f"{s}, really" for s in SENTENCES)
    assert "text column 'review' read as strings" in data.notes
    check_fit(data, text_io())
    with pytest.raises(DataMismatchError, match=r"features \(column 'review'\) hold strings"):
        check_fit(data, io_spec((1,), units=3))


def test_csv_several_text_columns_make_one_row_of_strings(tmp_path):
    path = tmp_path / "cats.csv"
    path.write_text("colour,size,label\nred,big,0\nblue,small,1\nred,small,2\nblue,big,0\n")
    data = load(path, text_io((2,)), target="label", val_split=0.5)
    assert data.train.x.shape == (2, 2)
    assert set(np.concatenate([data.train.x, data.val.x])[:, 0]) == {"red", "blue"}
    check_fit(data, text_io((2,)))


def test_csv_text_mixed_with_numbers_is_still_refused(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("review,stars,label\ngood,5,1\nbad,1,0\n")
    with pytest.raises(DataMismatchError, match=r"non-numeric feature columns: 'review'"):
        load(path, text_io(), target="label", val_split=0.5)


def test_health_skips_the_scale_checks_and_finds_duplicate_strings(tmp_path):
    # Validation stored narrower (<U9) than training (<U11): the same words still match.
    data = load(write_npz(tmp_path / "t.npz", x_val=np.array(["a red dog", "new words"])))
    warnings = data_health(data, text_io())
    found = {w.id: w for w in warnings}
    assert not {"unnormalised-inputs", "scale-mismatch", "non-finite"} & set(found)
    assert found["duplicates"].evidence["count"] == 1


class _StringTensor:
    """What a TensorFlow string tensor's `.numpy()` gives: an object array of bytes."""

    def __init__(self, values):
        self.values = values

    def numpy(self):
        return np.array(self.values, dtype=object)


@pytest.mark.parametrize(
    ("x", "y", "rows"),
    [
        ([b"one sentence", b"two"], [0, 1], 2),  # a batch of sentences, shape (B,)
        ([b"one sentence"], 0, 1),  # one sample of shape (1,) and a scalar label
        (b"one sentence", 0, 1),  # one scalar string
    ],
)
def test_first_batch_of_a_string_dataset_is_text(x, y, rows):
    batch = first_batch([(_StringTensor(x), np.array(y))], 1, "ds:load", "training")
    assert batch is not None
    assert batch.x.dtype.kind == "S"
    assert len(batch) == rows == len(batch.y)


def _auto_evidence(**changes):
    base = {
        "train_loss": 0.003,
        "val_loss": 0.3,
        "train_accuracy": 1.0,
        "val_accuracy": 0.8,
        "chance_loss": float(np.log(3)),
        "classes": 3,
        "trainable_params": 400,
        "frozen_params": 0,
        "learning_rate": 1e-3,
        "narrowest": ("dense", 16),
        "narrowest_note": None,
    }
    return Evidence(**(base | changes))


def test_auto_never_picks_augment_for_a_string_input():
    assert choose(_auto_evidence()).strategy == "augment"
    choice = choose(_auto_evidence(string_inputs=True))
    assert (choice.strategy, choice.rule) == ("regularize", "overfitting")
    assert "takes text" in choice.reason


def test_auto_never_picks_augment_for_token_ids():
    """An Embedding over integer ids: augment refuses them, so auto passes it over as well."""
    choice = choose(_auto_evidence(token_inputs=True))
    assert (choice.strategy, choice.rule) == ("regularize", "overfitting")
    assert "token ids" in choice.reason
