"""`plateau-cli trial` on every sample plateau: the winner, its margin, the epochs it saved.

    python benchmarks/trial_samples.py                 # the README's table (a few minutes)
    python benchmarks/trial_samples.py --budget 2 --frameworks keras --scenarios lr   # quick

Each framework runs in a subprocess of its own; every trial uses the CLI's defaults (all nine
strategies, seed 0) with `--budget-epochs` as given.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"


def worker(framework: str, names: list[str], budget: int) -> None:
    sys.path.insert(0, str(SAMPLES))
    import scenarios
    from plateau_cli.cli import main

    for name in names:
        s = scenarios.BY_NAME[name]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "trial"
            argv = ["trial", *scenarios.cli_args(s, framework, SAMPLES)]
            argv += ["--budget-epochs", str(budget), "--out", str(out), "--quiet"]
            try:
                main(argv)
            except SystemExit as exc:
                if exc.code not in (0, None):
                    raise
            doc = json.loads((out / "trial.json").read_text())
        control = next(c for c in doc["candidates"] if c["strategy"] == "continue")
        print(
            json.dumps(
                {
                    "framework": framework,
                    "scenario": name,
                    "winner": doc["winner"]["strategy"],
                    "best": doc["winner"]["best"],
                    "control": control["best"],
                    "margin": doc["winner"]["margin_over_control"],
                    "spent": doc["epochs_spent"],
                    "full": doc["epochs_if_every_candidate_ran_the_budget"],
                    "seconds": doc["duration_s"],
                }
            ),
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=8)
    parser.add_argument("--scenarios", default="lr,widen,unfreeze,augment,dead")
    parser.add_argument("--frameworks", default="keras,torch")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = args.scenarios.split(",")
    if args.worker:
        worker(args.worker, names, args.budget)
        return 0
    rows = []
    for framework in args.frameworks.split(","):
        cmd = [sys.executable, __file__, "--worker", framework, "--budget", str(args.budget)]
        proc = subprocess.run(
            [*cmd, "--scenarios", args.scenarios], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            return proc.returncode
        rows += [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    print(f"plateau-cli trial, --budget-epochs {args.budget}, all nine strategies + control")
    print(
        f"{'scenario':<10}{'framework':<10}{'winner':<10}{'best val_loss':>14}{'control':>9}"
        f"{'margin':>9}{'epochs spent':>14}{'seconds':>9}"
    )
    for r in rows:
        print(
            f"{r['scenario']:<10}{r['framework']:<10}{r['winner']:<10}{r['best']:>14.4f}"
            f"{r['control']:>9.4f}{r['margin']:>9.4f}{r['spent']:>7} of {r['full']:<4}"
            f"{r['seconds']:>9.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
