"""What plateau-cli costs on top of the framework: per-epoch time and start-up time.

Per epoch: `plateau-cli resume` (in-process, lr-decay with a constant rate, no early stopping)
against a plain `model.fit` and a plain hand-written torch loop, on the same sample model, the
same data and batch size. Each side runs its own epochs; the first (tracing, warm-up) is dropped
and the median of the rest is compared, as a ratio (target <= 1.05). Start-up: `plateau-cli
--help` and `plateau-cli diagnose` on a 50-epoch log against `python -c 'import typer, rich'`.

    python benchmarks/overhead.py                 # the README's figures (a few minutes)
    python benchmarks/overhead.py --quick         # tiny sizes, for the smoke test

Each framework runs in its own subprocess (torch and TensorFlow in one process is fragile), and
plain and plateau-cli epochs alternate in rounds so that a noisy neighbour hits both alike.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"


def tiled_digits(tmp: Path, repeat: int) -> Path:
    """The digits sample, its training set repeated so one epoch lasts long enough to time."""
    import numpy as np

    data = np.load(SAMPLES / "data" / "digits.npz")
    out = tmp / f"digits_x{repeat}.npz"
    np.savez(
        out,
        x_train=np.tile(data["x_train"], (repeat, 1)),
        y_train=np.tile(data["y_train"], repeat),
        x_val=data["x_val"],
        y_val=data["y_val"],
    )
    return out


class EpochClock:
    """An Observer that timestamps epochs."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, lr: float | None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: object) -> None:
        self.durations.append(time.perf_counter() - self._start)


def plateau_epochs(model: Path, data: Path, epochs: int, batch: int, extra: dict) -> list[float]:
    from plateau_cli.adapters.base import LoadOptions
    from plateau_cli.observer import Observer
    from plateau_cli.run.resume import ResumeRequest, run_resume

    clock = EpochClock()

    class Clocked(Observer):
        on_epoch_begin = clock.on_epoch_begin  # type: ignore[assignment]
        on_epoch_end = clock.on_epoch_end  # type: ignore[assignment]

    with tempfile.TemporaryDirectory() as out:
        request = ResumeRequest(
            model=model,
            strategy="lr-decay",
            data=str(data),
            epochs=epochs,
            batch_size=batch,
            patience=None,
            out=Path(out),
            load=LoadOptions(**extra),
        )
        run_resume(request, Clocked())
    return clock.durations


def keras_plain_epochs(model_path: Path, data: Path, epochs: int, batch: int) -> list[float]:
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    arrays = np.load(data)
    model = keras.models.load_model(model_path)
    durations: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            durations.append(time.perf_counter() - self.start)

    model.fit(
        arrays["x_train"],
        arrays["y_train"],
        validation_data=(arrays["x_val"], arrays["y_val"]),
        batch_size=batch,
        epochs=epochs,
        verbose=0,
        callbacks=[Clock()],
    )
    return durations


def torch_plain_epochs(checkpoint: Path, data: Path, epochs: int, batch: int) -> list[float]:
    """The loop a user writes: TensorDataset + DataLoader, Adam state restored, eval per epoch."""
    import numpy as np
    import torch

    sys.path.insert(0, str(SAMPLES / "torch"))
    import nets

    torch.manual_seed(0)
    arrays = np.load(data)
    state = torch.load(checkpoint, weights_only=True)
    model = nets.mlp(hidden=32, activation="leaky_relu")
    model.load_state_dict(state["model_state_dict"])
    optimizer = torch.optim.AdamW(model.parameters())
    optimizer.load_state_dict(state["optimizer_state_dict"])
    for group in optimizer.param_groups:
        group["lr"] *= 0.1
    train = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(
            torch.from_numpy(arrays["x_train"]), torch.from_numpy(arrays["y_train"])
        ),
        batch_size=batch,
        shuffle=True,
    )
    xv, yv = torch.from_numpy(arrays["x_val"]), torch.from_numpy(arrays["y_val"])
    loss_fn = torch.nn.CrossEntropyLoss()
    durations = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for x, y in train:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val = loss_fn(model(xv), yv).item()
        durations.append(time.perf_counter() - start)
    assert math.isfinite(val)  # the loop really computed something
    return durations


def run_framework(framework: str, repeat: int, epochs: int, rounds: int, batch: int) -> dict:
    """Alternate plain and plateau-cli runs; return their per-epoch medians."""
    with tempfile.TemporaryDirectory() as tmp:
        data = tiled_digits(Path(tmp), repeat)
        plain: list[float] = []
        ours: list[float] = []
        for _ in range(rounds):
            if framework == "keras":
                model = SAMPLES / "keras" / "lr" / "model.keras"
                plain += keras_plain_epochs(model, data, epochs, batch)[1:]
                ours += plateau_epochs(model, data, epochs, batch, {})[1:]
            else:
                model = SAMPLES / "torch" / "lr" / "checkpoint.pt"
                extra = {
                    "model_factory": str(SAMPLES / "torch" / "nets.py") + ":mlp",
                    "factory_args": {"hidden": 32, "activation": "leaky_relu"},
                }
                plain += torch_plain_epochs(model, data, epochs, batch)[1:]
                ours += plateau_epochs(model, data, epochs, batch, extra)[1:]
    return {
        "framework": framework,
        "train_samples": 1437 * repeat,
        "batch_size": batch,
        "epochs_timed": len(ours),
        "plain_median_s": statistics.median(plain),
        "plateau_median_s": statistics.median(ours),
        "ratio": statistics.median(ours) / statistics.median(plain),
    }


def startup(runs: int) -> list[dict]:
    log = SAMPLES / "keras" / "widen" / "training.log"
    cases = {
        "python -c 'import typer, rich'": [sys.executable, "-c", "import typer, rich"],
        "plateau-cli --help": [sys.executable, "-m", "plateau_cli", "--help"],
        "plateau-cli diagnose (40-epoch log) --json": [
            sys.executable, "-m", "plateau_cli", "diagnose", str(log), "--json", "--exit-zero",
        ],
    }  # fmt: skip
    rows = []
    for name, argv in cases.items():
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True, check=False)
            times.append(time.perf_counter() - start)
        rows.append({"command": name, "median_s": statistics.median(times), "min_s": min(times)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--framework", choices=["keras", "torch"], help="only this one")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeat, epochs, rounds, runs = (1, 3, 1, 2) if args.quick else (20, 6, 3, 11)
    if args.worker:
        result = run_framework(args.worker, repeat, epochs, rounds, batch=32)
        print(json.dumps(result))
        return
    results = []
    for framework in [args.framework] if args.framework else ["keras", "torch"]:
        argv = [sys.executable, __file__, "--worker", framework] + (
            ["--quick"] if args.quick else []
        )
        proc = subprocess.run(argv, capture_output=True, text=True, check=True)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print("Per-epoch time, median over the timed epochs (first epoch of each run dropped)")
    print(f"{'framework':<10}{'train samples':>14}{'plain s':>10}{'plateau-cli s':>15}{'ratio':>8}")
    for r in results:
        print(
            f"{r['framework']:<10}{r['train_samples']:>14}{r['plain_median_s']:>10.3f}"
            f"{r['plateau_median_s']:>15.3f}{r['ratio']:>8.3f}"
        )
    print()
    print("Start-up, wall time of a fresh process")
    print(f"{'command':<46}{'median s':>10}{'min s':>8}")
    for row in startup(runs):
        print(f"{row['command']:<46}{row['median_s']:>10.3f}{row['min_s']:>8.3f}")


if __name__ == "__main__":
    main()
