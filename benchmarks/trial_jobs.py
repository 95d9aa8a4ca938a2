"""Wall time of `trial` with --jobs 1 against --jobs N, on a torch sample (CPU).

    python benchmarks/trial_jobs.py                       # lr MLP, all strategies, budget 4
    python benchmarks/trial_jobs.py --jobs 2 --rounds 5 --strategies lr-decay,augment
    python benchmarks/trial_jobs.py --sample cnn --strategies lr-decay,augment,unfreeze

The time is the whole command as a user waits for it (start-up, every candidate's loading,
baseline and training, the trial's report), measured around the subprocess. Every round runs
--jobs 1 and --jobs N back to back, so load from other processes on the machine hits both
alike; the figures are the median and the spread (min-max) over rounds. The script also checks
that every round gave the same candidates' numbers (OMP_NUM_THREADS=1 everywhere, so they are
equal to the bit), and says the cores it had.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = {
    "lr": [
        "sample_models/torch/lr/checkpoint.pt", "--data", "sample_models/data/digits.npz",
        "--model-factory", "sample_models/torch/nets.py:mlp", "--factory-arg", "hidden=32",
        "--factory-arg", "activation=leaky_relu", "--device", "cpu",
    ],
    "cnn": [
        "sample_models/torch/unfreeze/checkpoint.pt", "--data",
        "sample_models/data/digits_images_nchw.npz", "--model-factory",
        "sample_models/torch/nets.py:small_cnn", "--device", "cpu",
    ],
}  # fmt: skip


def run(sample: str, jobs: int, budget: int, strategies: str | None) -> tuple[float, list]:
    """Seconds the command took, and each candidate's (name, status, history)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "trial"
        args = ["trial", *SAMPLES[sample], "--budget-epochs", str(budget), "--jobs", str(jobs)]
        args += ["--strategies", strategies] if strategies else []
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "plateau_cli", *args, "--out", str(out), "--json"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        doc = json.loads(done.stdout)
        return seconds, [(c["strategy"], c["status"], c["history"]) for c in doc["candidates"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", choices=sorted(SAMPLES), default="lr")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=4)
    parser.add_argument("--strategies", default=None, help="default: trial's own list")
    args = parser.parse_args(argv)
    times: dict[int, list[float]] = {1: [], args.jobs: []}
    results = []
    for r in range(args.rounds):
        for jobs, values in times.items():
            seconds, candidates = run(args.sample, jobs, args.budget, args.strategies)
            values.append(seconds)
            results.append(candidates)
            print(f"round {r + 1}, --jobs {jobs}: {seconds:.1f} s", file=sys.stderr, flush=True)
    same = all(r == results[0] for r in results)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"torch {args.sample} sample, {len(results[0])} candidates, budget {args.budget} epochs,"
        f" {args.rounds} rounds, {cores} cores, load average"
        f" {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    for jobs, values in times.items():
        print(
            f"--jobs {jobs}: {statistics.median(values):.1f} s"
            f" (min {min(values):.1f}, max {max(values):.1f})"
        )
    ratio = statistics.median(times[1]) / statistics.median(times[args.jobs])
    print(f"speed-up: {ratio:.2f}x; candidates' numbers identical across runs: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
