"""Per-epoch time of `resume` in one process against `torchrun --nproc_per_node=N` (CPU, Gloo).

    python benchmarks/distributed_scaling.py                    # the CNN sample, 1 vs 2 procs
    python benchmarks/distributed_scaling.py --sample lr --rounds 5

Per-epoch time is (duration with --epochs HIGH - duration with --epochs LOW) / (HIGH - LOW),
both from report.json's duration_s: loading, the baseline and writing cancel out. Every round
runs all four configurations back to back, so load from other processes on the machine hits
them alike; the figures are the median and the spread (min-max) over rounds. The same global
--batch-size in both: the two runs do the same updates.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = {
    "cnn": [
        "sample_models/torch/unfreeze/checkpoint.pt", "--data",
        "sample_models/data/digits_images_nchw.npz", "--model-factory",
        "sample_models/torch/nets.py:small_cnn",
    ],
    "lr": [
        "sample_models/torch/lr/checkpoint.pt", "--data", "sample_models/data/digits.npz",
        "--model-factory", "sample_models/torch/nets.py:mlp", "--factory-arg", "hidden=32",
        "--factory-arg", "activation=leaky_relu",
    ],
}  # fmt: skip


def duration(procs: int, sample: str, epochs: int, batch: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        args = [
            "resume", *SAMPLES[sample], "--strategy", "lr-decay", "--epochs", str(epochs),
            "--patience", "1000", "--batch-size", str(batch), "--device", "cpu",
            "--out", str(out), "--quiet",
        ]  # fmt: skip
        launcher = [sys.executable, "-m", "plateau_cli"]
        if procs > 1:
            launcher = [
                sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc_per_node={procs}", "-m", "plateau_cli",
            ]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
        done = subprocess.run(
            [*launcher, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        return float(json.loads((out / "report.json").read_text())["duration_s"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", choices=sorted(SAMPLES), default="cnn")
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--low", type=int, default=1)
    parser.add_argument("--high", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    per_epoch: dict[int, list[float]] = {1: [], args.procs: []}
    for _ in range(args.rounds):
        for procs, values in per_epoch.items():
            low = duration(procs, args.sample, args.low, args.batch_size)
            high = duration(procs, args.sample, args.high, args.batch_size)
            values.append((high - low) / (args.high - args.low))
    print(f"sample {args.sample}, global batch {args.batch_size}, {args.rounds} rounds")
    for procs, values in per_epoch.items():
        print(
            f"{procs} process(es): {statistics.median(values):.3f} s/epoch"
            f" (min {min(values):.3f}, max {max(values):.3f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
