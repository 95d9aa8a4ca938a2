"""`--distribute mirrored` on two logical CPU devices against one device, through the CLI.

The `lr` Keras sample (no batch-norm, mean-reduced cross-entropy) resumed with lr-decay on
unshuffled tf.data digits cut to whole batches: both runs see the same global batches of 32,
each replica half of one, and tf.distribute sums the replicas' share-scaled gradients.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_models" / "keras" / "lr" / "model.keras"
DATA = f"{ROOT / 'tests' / 'distributed' / 'two_cpu_replicas.py'}:digits_datasets"
ARGS = [
    "resume", str(SAMPLE), "--strategy", "lr-decay", "--data", DATA, "--epochs", "2",
    "--batch-size", "32", "--json",
]  # fmt: skip
OUTPUTS = ["curves.png", "history.csv", "model.keras", "report.json", "report.md"]

pytestmark = [pytest.mark.slow, pytest.mark.keras]


def run(out: Path, *launcher: str, extra: tuple[str, ...] = ()) -> dict:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    done = subprocess.run(
        [sys.executable, "-m", *launcher, *ARGS, *extra, "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_mirrored_on_two_replicas_equals_one_device(tmp_path: Path) -> None:
    import keras

    one = run(tmp_path / "one", "plateau_cli")
    two = run(
        tmp_path / "two",
        "tests.distributed.two_cpu_replicas",
        extra=("--distribute", "mirrored"),
    )
    assert any("mirrored on 2 replica(s)" in note for note in two["notes"])
    assert one["best"]["epoch"] == two["best"]["epoch"] >= 1
    for key in ("baseline", "after_change", "output_metrics", "final"):
        assert two[key] == pytest.approx(one[key], rel=1e-5, abs=1e-6), key
    for row_one, row_two in zip(one["history"], two["history"], strict=True):
        assert row_two == pytest.approx(row_one, rel=1e-5, abs=1e-6)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == OUTPUTS
    # Plain Keras, outside any strategy, reads the output as it reads a one-device one.
    a = keras.models.load_model(tmp_path / "one" / "model.keras")
    b = keras.models.load_model(tmp_path / "two" / "model.keras")
    for wa, wb in zip(a.weights, b.weights, strict=True):
        assert wa.path == wb.path
        assert keras.ops.convert_to_numpy(wb) == pytest.approx(
            keras.ops.convert_to_numpy(wa), rel=1e-5, abs=1e-6
        )
