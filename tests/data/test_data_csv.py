"""Reading CSV tables with --target."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_cli.data import load_data, parse_data_spec
from plateau_cli.errors import BadInputError, CorruptFileError, DataMismatchError


def load(path, target="label", val_split=0.5, seed=0):
    spec = parse_data_spec(str(path), target=target, val_split=val_split, seed=seed)
    return load_data(spec, None)


def write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_numeric_table_with_string_target(tmp_path):
    rows = "".join(f"{i},{i * 0.5},{'yes' if i % 2 else 'no'}\n" for i in range(10))
    data = load(write(tmp_path, "a,b,label\n" + rows))
    assert data.format == "csv"
    assert data.class_names == ("no", "yes")
    assert data.feature_names == ("a", "b")
    assert data.train.x.dtype == np.float32
    assert data.train.x.shape == (5, 2)
    assert data.train.y.dtype == np.int64
    both = np.concatenate([data.train.x, data.val.x])
    labels = np.concatenate([data.train.y, data.val.y])
    # Each row keeps its own label through the split: odd a -> "yes" (index 1).
    assert ((both[:, 0] % 2 == 1) == (labels == 1)).all()
    assert np.bincount(data.val.y).tolist() == [3, 2] or np.bincount(data.val.y).tolist() == [2, 3]


def test_float_target_is_float32_and_integral_target_int64(tmp_path):
    data = load(write(tmp_path, "a,label\n1,0.5\n2,1.5\n3,2.5\n4,3.5\n"))
    assert data.train.y.dtype == np.float32
    assert data.class_names is None
    data = load(write(tmp_path, "a,label\n1,0\n2,1\n3,0\n4,1\n", "i.csv"))
    assert data.train.y.dtype == np.int64


def test_non_numeric_feature_columns_are_named(tmp_path):
    path = write(tmp_path, "city,temp,day,label\nParis,20,Mon,1\nRome,25,Tue,0\n")
    with pytest.raises(DataMismatchError, match=r"non-numeric feature columns: 'city' \(e.g. "
                       r"'Paris'\), 'day' \(e.g. 'Mon'\)"):  # fmt: skip
        load(path)


def test_missing_feature_cells_become_nan(tmp_path):
    data = load(write(tmp_path, "a,b,label\n1,,0\n2,NA,1\n3,4,0\n4,5,1\n"), val_split=0.25)
    values = np.concatenate([data.train.x, data.val.x])
    assert int(np.isnan(values).sum()) == 2


def test_empty_target_cells_are_refused(tmp_path):
    with pytest.raises(BadInputError, match=r"target column 'label' is empty in 1 row\(s\) \(first:"
                       r" data row 2\)"):  # fmt: skip
        load(write(tmp_path, "a,label\n1,0\n2,\n3,1\n"))


def test_split_column_is_honoured(tmp_path):
    text = "a,label,split\n1,0,train\n2,1,train\n3,0,Val\n4,1,validation\n5,0,test\n6,1,train\n"
    spec = parse_data_spec(str(write(tmp_path, text)), target="label", val_split=None, seed=0)
    data = load_data(spec, None)
    assert data.train.x[:, 0].tolist() == [1, 2, 6]
    assert data.val.x[:, 0].tolist() == [3, 4]
    assert data.feature_names == ("a",)
    assert any("1 rows marked 'test' held out" in n for n in data.notes)


def test_split_column_with_unknown_values(tmp_path):
    path = write(tmp_path, "a,label,split\n1,0,train\n2,1,holdout\n3,1,val\n")
    spec = parse_data_spec(str(path), target="label", val_split=None, seed=0)
    with pytest.raises(BadInputError, match=r"'split' column has values 'holdout'; expected train"):
        load_data(spec, None)


def test_pandas_index_column_is_dropped(tmp_path):
    data = load(write(tmp_path, ",a,label\n0,5,0\n1,6,1\n2,7,0\n3,8,1\n"))
    assert data.feature_names == ("a",)
    assert any("unnamed index column" in n for n in data.notes)


def test_semicolon_delimiter_and_bom(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("\ufeffa;b;label\n1;2;0\n3;4;1\n".encode())
    data = load(path)
    assert data.feature_names == ("a", "b")


def test_ragged_row_names_the_line(tmp_path):
    with pytest.raises(CorruptFileError, match=r"line 3 has 2 fields but the header has 3"):
        load(write(tmp_path, "a,b,label\n1,2,0\n3,4\n"))


def test_header_only(tmp_path):
    with pytest.raises(BadInputError, match=r"header but no data rows"):
        load(write(tmp_path, "a,label\n"))


def test_only_the_target_column(tmp_path):
    with pytest.raises(BadInputError, match=r"no feature columns besides the target 'label'"):
        load(write(tmp_path, "label\n1\n0\n"))
