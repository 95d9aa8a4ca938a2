"""How long the data checks take on MNIST-sized arrays (the figures the tests do not assert).

    python benchmarks/data_checks.py              # 100,000 x 784 float32, 5 rounds
    python benchmarks/data_checks.py --rows 5000 --rounds 2   # a quick smoke run

Two cases, each timed over `--rounds` rounds and printed as the median with the spread
(min-max): `check_fit` + `data_health` on in-memory arrays with 200 validation rows copied from
training (the duplicate finder's work), and loading a ~50 MB .npz through `load_data` plus the
checks, beside numpy's own `np.load` of the same file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from plateau_cli.adapters.base import IOSpec  # noqa: E402
from plateau_cli.data import (  # noqa: E402
    ArraySplit,
    DataBundle,
    check_fit,
    data_health,
    load_data,
    parse_data_spec,
)


def _rounds(fn: Callable[[], object], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def _row(case: str, size: str, times: list[float]) -> str:
    spread = f"{min(times):.3f}-{max(times):.3f}"
    return f"{case:<22} {size:>16} {statistics.median(times):>9.3f} {spread:>13}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    io = IOSpec(input_shape=(784,), output_units=10, output_activation="softmax", task=None)
    x = rng.random((args.rows, 784), dtype=np.float32)
    x_val = rng.random((max(args.rows // 10, 200), 784), dtype=np.float32)
    x_val[:200] = x[:200]
    data = DataBundle(
        ArraySplit(x, rng.integers(0, 10, len(x))),
        ArraySplit(x_val, rng.integers(0, 10, len(x_val))),
        format="npz",
        source="memory",
    )

    def checks() -> None:
        check_fit(data, io)
        data_health(data, io)

    print(f"{'case':<22} {'input':>16} {'median s':>9} {'min-max s':>13}")
    print(_row("check_fit+data_health", f"{len(x)}x784", _rounds(checks, args.rounds)))
    n = max(args.rows // 6, 400)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.npz"
        cut = n * 7 // 8
        np.savez(path, x_train=x[:cut], y_train=np.arange(cut) % 10, x_val=x[cut:n],
                 y_val=np.arange(n - cut) % 10)  # fmt: skip

        def numpy_alone() -> None:
            with np.load(path) as archive:
                _ = {key: archive[key] for key in archive.files}

        def ours() -> None:
            loaded = load_data(parse_data_spec(str(path), target=None, val_split=None, seed=0), io)
            check_fit(loaded, io)
            data_health(loaded, io)

        size = f"{path.stat().st_size / 1e6:.0f} MB npz"
        print(_row("np.load", size, _rounds(numpy_alone, args.rounds)))
        print(_row("load_data+checks", size, _rounds(ours, args.rounds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
