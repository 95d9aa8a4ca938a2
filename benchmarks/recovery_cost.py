"""What the per-epoch recovery point costs: seconds per save against seconds per epoch.

`plateau-cli resume` writes, after every epoch, the model and optimizer state plus a small
report into OUT/.continue/recovery/ (plateau_cli.run.recovery), so a SIGKILL costs at most one
epoch. This times that save (the whole `after_epoch` step: checkpoint, report, history row,
dropping the previous point) and the epoch it follows, in real `resume` runs (lr-decay, no early
stopping), on every sample model and on a ~1M-parameter CNN trained on synthetic 32x32x3 data,
in both frameworks. Each model runs `--rounds` times; a round's figure is the median over its
epochs (the first epoch, with its tracing and warm-up, is dropped), and the table gives the
median of the rounds and their spread (min-max).

    python benchmarks/recovery_cost.py              # the README's figures (several minutes)
    python benchmarks/recovery_cost.py --quick      # one sample per framework, for a smoke test

Each framework runs in its own subprocess (torch and TensorFlow in one process is fragile).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_models"
SAMPLE_NAMES = ("lr", "dead", "widen", "unfreeze", "augment")
CNN_CLASSES = 10


def cnn_1m() -> Any:
    """The torch CNN (~1.0M parameters): four 3x3 convolutions, global pooling, a linear head."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, CNN_CLASSES),
    )  # fmt: skip


def _keras_cnn() -> Any:
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.Conv2D(128, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
            layers.Conv2D(256, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
            layers.Conv2D(256, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(), layers.Dense(CNN_CLASSES),
        ]
    )  # fmt: skip


def _synthetic(tmp: Path, channels_last: bool, samples: int) -> Path:
    """32x32x3 images whose class shifts the mean of one colour channel (learnable, not trivial)."""
    import numpy as np

    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", samples), ("val", max(64, samples // 4))):
        y = rng.integers(0, CNN_CLASSES, n)
        x = rng.normal(size=(n, 32, 32, 3)).astype("float32")
        x[np.arange(n), :, :, y % 3] += (y[:, None, None] / CNN_CLASSES).astype("float32")
        arrays[f"x_{split}"] = x if channels_last else x.transpose(0, 3, 1, 2).copy()
        arrays[f"y_{split}"] = y.astype("int64")
    path = tmp / ("cnn_nhwc.npz" if channels_last else "cnn_nchw.npz")
    np.savez(path, **arrays)
    return path


def _cnn_checkpoint(
    framework: str, tmp: Path, samples: int
) -> tuple[Path, Path, dict[str, Any], int]:
    """A CNN trained for one batch (so the optimizer holds state), its data, load options."""
    import numpy as np

    data = _synthetic(tmp, channels_last=framework == "keras", samples=samples)
    arrays = np.load(data)
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(0)
        model = _keras_cnn()
        model.compile(
            optimizer="adam",
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        model.fit(arrays["x_train"][:64], arrays["y_train"][:64], epochs=1, verbose=0)
        path = tmp / "cnn.keras"
        model.save(path)
        return path, data, {}, model.count_params()
    import torch

    torch.manual_seed(0)
    model = cnn_1m()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = torch.nn.functional.cross_entropy(
        model(torch.from_numpy(arrays["x_train"][:64])), torch.from_numpy(arrays["y_train"][:64])
    )
    loss.backward()
    optimizer.step()
    path = tmp / "cnn.pt"
    torch.save(
        {"model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict()},
        path,
    )
    options = {"model_factory": f"{Path(__file__).resolve()}:cnn_1m"}
    return path, data, options, sum(p.numel() for p in model.parameters())


def _sample(framework: str, name: str) -> tuple[Path, Path, dict[str, Any]]:
    sys.path.insert(0, str(SAMPLES))
    import scenarios
    from plateau_cli.entry_points import parse_factory_args

    args = scenarios.cli_args(scenarios.BY_NAME[name], framework, SAMPLES)
    options: dict[str, Any] = {}
    if framework == "torch":
        factory_args = [args[i + 1] for i, a in enumerate(args) if a == "--factory-arg"]
        options = {
            "model_factory": args[args.index("--model-factory") + 1],
            "factory_args": parse_factory_args(factory_args),
        }
    return Path(args[0]), Path(args[2]), options


def _time_run(model: Path, data: Path, options: dict[str, Any], epochs: int, batch: int) -> dict:
    """One resume: per-epoch training seconds and per-epoch recovery-save seconds."""
    from plateau_cli.adapters.base import LoadOptions
    from plateau_cli.observer import NullObserver
    from plateau_cli.run import recovery
    from plateau_cli.run.resume import ResumeRequest, run_resume

    epoch_s: list[float] = []
    save_s: list[float] = []
    started = [0.0]

    class Clock(NullObserver):
        def on_epoch_begin(self, epoch: int, lr: float | None) -> None:
            started[0] = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: object) -> None:
            epoch_s.append(time.perf_counter() - started[0])

    original = recovery.RecoveryPoints.after_epoch

    def timed(self: Any, trainer: Any, epoch: int) -> None:
        t0 = time.perf_counter()
        original(self, trainer, epoch)
        save_s.append(time.perf_counter() - t0)

    recovery.RecoveryPoints.after_epoch = timed  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as out:
            request = ResumeRequest(
                model=model, strategy="lr-decay", data=str(data), epochs=epochs,
                batch_size=batch, patience=None, out=Path(out) / "run",
                load=LoadOptions(device="cpu", **options) if options else LoadOptions(),
            )  # fmt: skip
            run_resume(request, Clock())
            size = sum(p.stat().st_size for p in (Path(out) / "run").glob("model.*")) + sum(
                p.stat().st_size for p in (Path(out) / "run").glob("checkpoint.*")
            )
    finally:
        recovery.RecoveryPoints.after_epoch = original  # type: ignore[method-assign]
    return {"epoch_s": epoch_s[1:], "save_s": save_s[1:], "bytes": size}


def child(
    framework: str, rounds: int, epochs: int, quick: bool, samples: tuple[str, ...], cnn: int
) -> None:
    if framework == "torch":
        import torch

        torch.set_num_threads(2)
    names = samples[:1] if quick else samples
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        models: list[tuple[str, Path, Path, dict[str, Any], int]] = [
            (f"sample {n}", *_sample(framework, n), 32) for n in names
        ]
        if not quick:
            path, data, options, params = _cnn_checkpoint(framework, Path(tmp), cnn)
            models.append((f"cnn {params / 1e6:.2f}M", path, data, options, 64))
        for label, model, data, options, batch in models:
            runs = [_time_run(model, data, options, epochs, batch) for _ in range(rounds)]
            results.append(
                {
                    "model": label,
                    "epoch": [statistics.median(r["epoch_s"]) for r in runs],
                    "save": [statistics.median(r["save_s"]) for r in runs],
                    "bytes": runs[0]["bytes"],
                }
            )
    print(json.dumps(results))


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4, help="per run; the first is dropped")
    parser.add_argument("--samples", default=",".join(SAMPLE_NAMES), help="sample models")
    parser.add_argument("--cnn-samples", type=int, default=2048, help="CNN training images")
    parser.add_argument("--child", choices=("torch", "keras"))
    args = parser.parse_args()
    samples = tuple(s for s in args.samples.split(",") if s)
    if args.child:
        child(args.child, args.rounds, args.epochs, args.quick, samples, args.cnn_samples)
        return
    env_note = (
        f"rounds={args.rounds}, epochs per run={args.epochs} (first dropped),"
        f" CNN: {args.cnn_samples} training images"
    )
    print(f"recovery point cost, median (min-max) over rounds; {env_note}")
    header = f"{'framework':<9} {'model':<16} {'epoch s':>21} {'save s':>21} {'save/epoch':>10}"
    print(header)
    for framework in ("torch", "keras"):
        command = [sys.executable, __file__, "--child", framework, "--rounds", str(args.rounds)]
        command += ["--epochs", str(args.epochs), "--samples", args.samples]
        command += ["--cnn-samples", str(args.cnn_samples)] + (["--quick"] if args.quick else [])
        proc = subprocess.run(
            command, capture_output=True, text=True, check=False, cwd=ROOT,
            env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                 "PYTHONPATH": str(ROOT / "src")},
        )  # fmt: skip
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-3000:])
            raise SystemExit(f"{framework} child failed")
        for row in json.loads(proc.stdout.strip().splitlines()[-1]):
            ratio = statistics.median(row["save"]) / statistics.median(row["epoch"])
            print(
                f"{framework:<9} {row['model']:<16} {_cell(row['epoch']):>21}"
                f" {_cell(row['save']):>21} {ratio:>10.2f}"
            )


if __name__ == "__main__":
    main()
