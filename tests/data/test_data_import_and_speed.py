"""The data package stays light: no framework import, and big arrays are checked right.

How fast is measured by benchmarks/data_checks.py, not asserted here: a busy machine is no bug.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from plateau_cli.data import (
    ArraySplit,
    DataBundle,
    check_fit,
    data_health,
    load_data,
    parse_data_spec,
)
from tests.data.data_fixtures import io_spec


def test_reading_npz_and_csv_imports_no_framework(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((10, 3)), y=np.arange(10) % 2)
    (tmp_path / "t.csv").write_text("a,label\n1,0\n2,1\n3,0\n4,1\n")
    script = textwrap.dedent(
        f"""
        import sys
        from plateau_cli.data import parse_data_spec, load_data, check_fit, data_health
        from plateau_cli.adapters.base import IOSpec
        io = IOSpec(input_shape=(3,), output_units=2, output_activation="softmax", task=None)
        spec = parse_data_spec({str(tmp_path / "d.npz")!r}, target=None, val_split=0.2, seed=0)
        data = load_data(spec, io)
        check_fit(data, io)
        data_health(data, io)
        csv = parse_data_spec({str(tmp_path / "t.csv")!r}, target="label", val_split=0.5, seed=0)
        load_data(csv, None)
        heavy = sorted(m for m in sys.modules
                       if m.split(".")[0] in ("tensorflow", "keras", "torch", "PIL", "jax"))
        print(heavy)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_100k_by_784_float32_duplicates_are_found_exactly():
    """What the fast path does on MNIST-sized data (its speed: benchmarks/data_checks.py)."""
    rng = np.random.default_rng(0)
    x = rng.random((100_000, 784), dtype=np.float32)
    x_val = rng.random((10_000, 784), dtype=np.float32)
    x_val[:200] = x[:200]
    data = DataBundle(
        ArraySplit(x, rng.integers(0, 10, 100_000)),
        ArraySplit(x_val, rng.integers(0, 10, 10_000)),
        format="npz",
        source="big.npz",
    )
    io = io_spec((784,), units=10)
    check_fit(data, io)
    warnings = data_health(data, io)
    assert [w.id for w in warnings] == ["duplicates"]
    assert warnings[0].evidence["count"] == 200
    assert data.train.x is x  # checked in place: no copy of the 300 MB array
    assert data.val.x is x_val


def test_50mb_npz_loads_as_saved_and_passes_the_checks(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    x = rng.random((16_000, 784), dtype=np.float32)  # 50 MB
    np.savez(path, x_train=x[:14_000], y_train=np.arange(14_000) % 10, x_val=x[14_000:],
             y_val=np.arange(2_000) % 10)  # fmt: skip
    io = io_spec((784,), units=10)
    data = load_data(parse_data_spec(str(path), target=None, val_split=None, seed=0), io)
    check_fit(data, io)
    assert data_health(data, io) == []
    assert data.train.x.dtype == np.float32  # not widened to float64 on the way
    np.testing.assert_array_equal(data.train.x, x[:14_000])
    np.testing.assert_array_equal(data.val.x, x[14_000:])
    np.testing.assert_array_equal(data.train.y, np.arange(14_000) % 10)
