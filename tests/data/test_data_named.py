"""Named arrays for multi-input/multi-output Keras models: the `<role>.<name>` npz keys, dict
entry points, and the per-input/per-output fit and health checks (no framework needed)."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_cli.adapters.base import IOSpec
from plateau_cli.data import check_fit, data_health, load_data, parse_data_spec
from plateau_cli.data.base import ArraySplit, DataBundle, Task
from plateau_cli.data.npz import resolve_layout
from plateau_cli.errors import BadInputError, DataMismatchError, UsageError

SPLITS = {"train": 30, "val": 10}


def arrays(rng=None, prefix=("x_train", "y_train", "x_val", "y_val")):
    rng = rng or np.random.default_rng(0)
    out = {}
    for split, n in SPLITS.items():
        out[f"x_{split}.pixels"] = rng.normal(size=(n, 8)).astype(np.float64)
        out[f"x_{split}.meta"] = rng.integers(0, 3, size=(n, 3)).astype(np.uint8)
        out[f"y_{split}.digit"] = rng.integers(0, 10, size=n).astype(np.int32)
        out[f"y_{split}.big"] = (rng.random(n) > 0.5).astype(np.float32)
    return out


def io_spec(**changes):
    outputs = {
        "digit": IOSpec(None, 10, "softmax", Task.CLASSIFICATION),
        "big": IOSpec(None, 1, "sigmoid", Task.BINARY),
    }
    spec = IOSpec(
        input_shape=None,
        output_units=None,
        output_activation=None,
        task=None,
        inputs={"pixels": (8,), "meta": (3,)},
        outputs=outputs,
    )
    return IOSpec(**{**spec.__dict__, **changes})


def load(path, val_split=None):
    return load_data(parse_data_spec(str(path), target=None, val_split=val_split, seed=0), None)


def saved(tmp_path, **replace):
    path = tmp_path / "d.npz"
    content = {**arrays(), **replace}
    np.savez(path, **{k: v for k, v in content.items() if v is not None})
    return path


def test_named_keys_become_dicts_converted_array_by_array(tmp_path):
    data = load(saved(tmp_path))
    assert data.is_multi
    assert data.is_arrays
    assert set(data.train.x) == {"pixels", "meta"}
    assert set(data.val.y) == {"digit", "big"}
    assert data.train.x["meta"].dtype == np.float32
    assert data.train.y["digit"].dtype == np.int64
    assert data.train.y["big"].dtype == np.float32
    assert len(data.train) == 30
    assert len(data.val) == 10
    assert data.source_dtype == "mixed"


def test_layout_names_the_pattern_and_each_key():
    layout = resolve_layout(list(arrays()), "d.npz", None)
    assert layout.kind == "split"
    assert layout.keys["x_train"] == "x_train.{pixels,meta}"
    assert layout.named["y_val"] == {"digit": "y_val.digit", "big": "y_val.big"}


def test_role_spellings_apply_before_the_dot():
    layout = resolve_layout(["X_train.a", "train_y.b", "x_valid.a", "val_y.b"], "d.npz", None)
    assert layout.named == {
        "x_train": {"a": "X_train.a"},
        "y_train": {"b": "train_y.b"},
        "x_val": {"a": "x_valid.a"},
        "y_val": {"b": "val_y.b"},
    }


def test_named_inputs_with_one_label_array(tmp_path):
    path = tmp_path / "d.npz"
    a = arrays()
    np.savez(path, **{k: v for k, v in a.items() if not k.startswith("y_")},
             y_train=a["y_train.digit"], y_val=a["y_val.digit"])  # fmt: skip
    data = load(path)
    assert isinstance(data.train.x, dict)
    assert data.train.y.dtype == np.int64


def test_val_split_splits_every_array_with_the_same_rows(tmp_path):
    path = tmp_path / "d.npz"
    n = 40
    index = np.arange(n)
    np.savez(path, **{"x.pixels": np.stack([index] * 8, 1), "x.meta": np.stack([index] * 3, 1),
                      "y.digit": index % 4, "y.big": index % 2})  # fmt: skip
    with pytest.raises(UsageError, match="--val-split"):
        load(path)
    data = load(path, val_split=0.25)
    assert len(data.train) == 30
    assert len(data.val) == 10
    for split in (data.train, data.val):
        rows = split.x["pixels"][:, 0].astype(int)
        np.testing.assert_array_equal(split.x["meta"][:, 0], rows)
        np.testing.assert_array_equal(split.y["digit"], rows % 4)
        np.testing.assert_array_equal(split.y["big"], rows % 2)
    # stratified on the first output: each of its four classes keeps its share
    assert sorted(np.bincount(data.val.y["digit"]).tolist()) == [2, 2, 3, 3]


def test_a_key_both_plain_and_named_is_refused():
    with pytest.raises(BadInputError, match="both 'x_train' and named x_train"):
        resolve_layout(["x_train", "x_train.a", "y_train", "x_val", "y_val"], "d.npz", None)


def test_train_and_val_must_name_the_same_inputs(tmp_path):
    path = saved(tmp_path, **{"x_val.meta": None, "x_val.other": np.zeros((10, 3))})
    with pytest.raises(DataMismatchError, match="must name the same arrays"):
        load(path)


def test_rows_must_agree_across_named_arrays(tmp_path):
    path = saved(tmp_path, **{"x_train.meta": np.zeros((29, 3))})
    with pytest.raises(DataMismatchError, match=r"different numbers of rows \(.*29"):
        load(path)


def test_text_labels_of_an_output_become_classes_with_a_note(tmp_path):
    path = saved(
        tmp_path,
        **{"y_train.big": np.array(["no", "yes"] * 15), "y_val.big": np.array(["yes"] * 10)},
    )
    data = load(path)
    assert data.train.y["big"].tolist()[:2] == [0, 1]
    assert data.val.y["big"].tolist() == [1] * 10
    assert any("output 'big'" in note and "no, yes" in note for note in data.notes)


def test_a_dotted_key_without_a_role_is_just_an_array():
    layout = resolve_layout(["x_train", "y_train", "x_val", "y_val", "meta.v2"], "d.npz", None)
    assert layout.named == {}


def test_entry_point_returning_dicts(tmp_path):
    module = tmp_path / "feed.py"
    module.write_text(
        "import numpy as np\n"
        "def data():\n"
        "    r = np.random.default_rng(0)\n"
        "    def part(n):\n"
        "        return ({'pixels': r.normal(size=(n, 8)), 'meta': r.normal(size=(n, 3))},\n"
        "                {'digit': r.integers(0, 10, n), 'big': r.integers(0, 2, n)})\n"
        "    return part(30), part(10)\n"
    )
    source = f"{module}:data"
    data = load_data(parse_data_spec(source, target=None, val_split=None, seed=0), None)
    assert data.is_multi
    assert data.train.x["pixels"].dtype == np.float32
    assert data.val.y["digit"].dtype == np.int64
    check_fit(data, io_spec())


@pytest.fixture
def bundle(tmp_path):
    return load(saved(tmp_path))


def test_matching_data_fits(bundle):
    check_fit(bundle, io_spec())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"inputs": {"pixels": (8,), "meta": (3,), "extra": (2,)}},
            r"no array for input 'extra' \(the model's inputs: 'pixels', 'meta', 'extra'\)",
        ),
        ({"inputs": {"pixels": (8,)}}, "the model has no input 'meta'"),
        (
            {"inputs": {"pixels": (9,), "meta": (3,)}},
            r"input 'pixels' have shape \(8,\) per sample but the model's input 'pixels' is"
            r" \(9,\)",
        ),
        (
            {
                "outputs": {
                    "digit": IOSpec(None, 5, "softmax", Task.CLASSIFICATION),
                    "big": IOSpec(None, 1, "sigmoid", Task.BINARY),
                }
            },
            r"labels of output 'digit' go up to \d but the model has 5 output units",
        ),
        (
            {"inputs": None, "input_shape": (8,)},
            r"named arrays \('pixels', 'meta'\) but the model has one input",
        ),
    ],
)
def test_mismatches_name_the_input_or_output(bundle, spec, message):
    with pytest.raises(DataMismatchError, match=message):
        check_fit(bundle, io_spec(**spec))


def test_one_array_for_a_multi_input_model_says_how_to_name_them():
    data = DataBundle(
        train=ArraySplit(np.zeros((4, 8), np.float32), {"digit": np.zeros(4, np.int64)}),
        val=ArraySplit(np.zeros((4, 8), np.float32), {"digit": np.zeros(4, np.int64)}),
        format="npz",
        source="d.npz",
    )
    spec = io_spec(outputs={"digit": IOSpec(None, 10, "softmax", Task.CLASSIFICATION)})
    with pytest.raises(DataMismatchError, match=r"x_train.pixels, x_train.meta"):
        check_fit(data, spec)


def test_health_checks_each_input_and_names_it(tmp_path):
    a = arrays()
    a["x_train.meta"] = (a["x_train.meta"].astype(np.float32) * 500).astype(np.float32)
    a["x_val.meta"] = (a["x_val.meta"].astype(np.float32) * 500).astype(np.float32)
    path = tmp_path / "d.npz"
    np.savez(path, **a)
    warnings = {w.id: w for w in data_health(load(path), io_spec())}
    assert "unnormalised-inputs" in warnings
    warning = warnings["unnormalised-inputs"]
    assert warning.evidence["input"] == "meta"
    assert warning.text.startswith("Input 'meta': ")


def test_health_counts_classes_per_output(tmp_path):
    a = arrays()
    a["y_train.big"] = np.r_[np.ones(28), np.zeros(2)].astype(np.float32)
    a["y_train.digit"] = np.arange(30) % 10  # balanced: only 'big' is imbalanced
    path = tmp_path / "d.npz"
    np.savez(path, **a)
    warnings = {w.id: w for w in data_health(load(path), io_spec())}
    assert warnings["class-imbalance"].evidence["output"] == "big"
    assert warnings["class-imbalance"].evidence["majority_share"] == pytest.approx(28 / 30)


@pytest.mark.torch
def test_named_arrays_for_a_torch_model_are_refused_in_one_line(tmp_path):
    pytest.importorskip("torch")
    from pathlib import Path

    from tests.e2e.runner import run_cli

    samples = Path(__file__).resolve().parents[2] / "sample_models" / "torch"
    result = run_cli(
        [
            "resume", str(samples / "lr" / "checkpoint.pt"), "--strategy", "lr-decay",
            "--data", str(saved(tmp_path)), "--model-factory", f"{samples / 'nets.py'}:mlp",
            "--factory-arg", "hidden=32", "--factory-arg", "activation=leaky_relu",
            "--out", str(tmp_path / "o"),
        ]
    )  # fmt: skip
    assert result.code == 2, result.stderr
    assert "the arrays are given by name" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()
