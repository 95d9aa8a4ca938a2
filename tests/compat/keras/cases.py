"""Helpers for the compatibility suite: run the CLI, read its report, evaluate independently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tests.e2e.runner import CliResult, run_cli

#: Reported and independently evaluated metrics agree to float32 summation noise.
RTOL = 1e-4


def resume(model: Path, data: str, out: Path, *extra: str, epochs: int = 1) -> CliResult:
    args = ["resume", str(model), "--data", data, "--epochs", str(epochs), "--out", str(out)]
    return run_cli([*args, "--json", "--seed", "0", *extra])


def report(result: CliResult) -> dict[str, Any]:
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def evaluated(model: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
    """`model.evaluate` as a dict with the report's `val_` names."""
    values = model.evaluate(*args, verbose=0, return_dict=True, **kwargs)
    return {f"val_{k}": float(v) for k, v in values.items()}


def assert_metrics_equal(reported: dict[str, float], independent: dict[str, float]) -> None:
    assert set(independent) <= set(reported), (reported, independent)
    for name, value in independent.items():
        assert np.isclose(reported[name], value, rtol=RTOL, atol=1e-6), (name, reported, value)


def tabular(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """A separable two-class problem of 8 features, saved as the .npz layout the CLI reads."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, 8)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    arrays = {"x_train": x[:200], "y_train": y[:200], "x_val": x[200:], "y_val": y[200:]}
    np.savez(path, **arrays)
    return arrays
