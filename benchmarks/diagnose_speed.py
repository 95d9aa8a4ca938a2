"""How fast `diagnose` reads big logs, against the targets in issue 2.

    python benchmarks/diagnose_speed.py               # 1,000,000 rows / scalars
    python benchmarks/diagnose_speed.py --rows 2000   # a quick smoke run

Three cases, each timed as the best of `--repeat` runs:

1. a Lightning-style metrics.csv with N rows (step rows, plus a validation row and a train-epoch
   row per epoch), read with `read_log` and diagnosed in-process (target 2 s for 1M rows);
2. a TensorBoard event file with N scalars (per-step `train/batch_loss`, per-epoch loss and
   accuracy), written here record by record as SummaryWriter would (target 5 s for 1M);
3. `plateau-cli diagnose --json` on a 50-epoch Keras CSVLogger file, as a subprocess: wall time
   including interpreter start-up (target 0.5 s).

Generating the inputs is not timed. `--check` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 100
TARGETS = {"csv": 2.0, "tensorboard": 5.0, "cli-50-epochs": 0.5}


def _curve(n: int, seed: int = 0) -> np.ndarray:
    """A loss that falls and flattens, with batch noise."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 1.0, n)
    return 0.3 + 0.9 * np.exp(-5.0 * x) + rng.normal(0.0, 0.03, n)


def write_lightning_csv(path: Path, rows: int) -> None:
    epochs = max(1, min(EPOCHS, rows // 10))
    per_epoch = max(1, rows // epochs - 2)
    loss = _curve(per_epoch * epochs)
    lines = ["epoch,step,train_loss_epoch,train_loss_step,val_acc,val_loss"]
    step = 0
    for epoch in range(epochs):
        chunk = loss[epoch * per_epoch : (epoch + 1) * per_epoch]
        lines.extend(f"{epoch},{step + i},,{v:.6f},," for i, v in enumerate(chunk))
        step += per_epoch
        val = 0.35 + 0.8 * np.exp(-0.08 * epoch) + 0.002 * max(0, epoch - 60)
        lines.append(f"{epoch},{step - 1},,,{0.9 - val / 4:.6f},{val:.6f}")
        lines.append(f"{epoch},{step - 1},{float(chunk.mean()):.6f},,,")
    path.write_text("\n".join(lines) + "\n")


def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table[i] = crc
    return table


_TABLE = _crc_table()


def masked_crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """Masked CRC-32C of each row of a (n, length) uint8 array, vectorised over rows."""
    crc = np.full(rows.shape[0], 0xFFFFFFFF, dtype=np.uint32)
    for i in range(rows.shape[1]):
        crc = _TABLE[(crc ^ rows[:, i]) & 0xFF] ^ (crc >> np.uint32(8))
    crc ^= np.uint32(0xFFFFFFFF)
    rotated = ((crc >> np.uint32(15)) | (crc << np.uint32(17))).astype(np.uint64)
    return ((rotated + 0xA282EAD8) & 0xFFFFFFFF).astype(np.uint32)


def write_events(path: Path, scalars: list[tuple[int, str, float]]) -> None:
    """One event per scalar (as torch's SummaryWriter writes them), TFRecord-framed with both
    CRCs, so TensorBoard itself would read the file."""
    from tensorboard.compat.proto.event_pb2 import Event

    payloads = [Event(file_version="brain.Event:2", wall_time=1.7e9).SerializeToString()]
    event = Event(wall_time=1.7e9)
    value = event.summary.value.add()
    for step, tag, number in scalars:
        event.step = step
        value.tag = tag
        value.simple_value = number
        payloads.append(event.SerializeToString())
    lengths = np.array([len(p) for p in payloads], dtype="<u8")
    length_crcs = masked_crc32c_rows(lengths.view(np.uint8).reshape(-1, 8))
    data_crcs = np.zeros(len(payloads), dtype=np.uint32)
    for size in np.unique(lengths):
        index = np.flatnonzero(lengths == size)
        block = np.frombuffer(b"".join(payloads[i] for i in index), dtype=np.uint8)
        data_crcs[index] = masked_crc32c_rows(block.reshape(index.size, int(size)))
    with path.open("wb") as handle:
        for i, payload in enumerate(payloads):
            handle.write(struct.pack("<QI", len(payload), int(length_crcs[i])))
            handle.write(payload)
            handle.write(struct.pack("<I", int(data_crcs[i])))


def write_big_events(path: Path, count: int) -> None:
    epochs = max(1, min(EPOCHS, count // 10))
    per_epoch_tags = 3
    steps = max(1, (count - epochs * per_epoch_tags) // epochs)
    loss = _curve(steps * epochs)
    scalars: list[tuple[int, str, float]] = []
    for epoch in range(epochs):
        for i in range(steps):
            step = epoch * steps + i
            scalars.append((step, "train/batch_loss", float(loss[step])))
        val = 0.35 + 0.8 * np.exp(-0.08 * epoch)
        scalars.append(
            (epoch, "Loss/train", float(loss[epoch * steps : (epoch + 1) * steps].mean()))
        )
        scalars.append((epoch, "Loss/val", float(val)))
        scalars.append((epoch, "Accuracy/val", float(0.9 - val / 4)))
    write_events(path, scalars)


def write_keras_csv(path: Path, epochs: int = 50) -> None:
    loss = _curve(epochs, seed=1)
    lines = ["epoch,accuracy,loss,val_accuracy,val_loss"]
    for e in range(epochs):
        val = loss[e] + 0.05 + 0.004 * max(0, e - 30)
        lines.append(f"{e},{1 - loss[e] / 2:.4f},{loss[e]:.4f},{1 - val / 2:.4f},{val:.4f}")
    path.write_text("\n".join(lines) + "\n")


def _best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def _in_process(path: Path) -> Callable[[], object]:
    from plateau_cli.diagnose import DiagnoseOptions, diagnose
    from plateau_cli.logs import read_log

    def run() -> object:
        return diagnose(read_log(path).history, DiagnoseOptions())

    return run


def _cli(path: Path) -> Callable[[], object]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "plateau_cli", "diagnose", str(path), "--json"]

    def run() -> object:
        done = subprocess.run(command, capture_output=True, env=env, check=False)
        if done.returncode not in (0, 1):
            raise SystemExit(f"plateau-cli diagnose failed ({done.returncode}): {done.stderr!r}")
        return done

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time diagnose on big logs.")
    parser.add_argument("--rows", type=int, default=1_000_000, help="CSV rows / event scalars")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case; the best counts")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    results = []
    with tempfile.TemporaryDirectory(prefix="plateau-bench-") as tmp:
        work = Path(tmp)
        csv_path, tb_path = work / "metrics.csv", work / "events.out.tfevents.1700000000.bench"
        small = work / "keras_50_epochs.csv"
        write_lightning_csv(csv_path, args.rows)
        write_big_events(tb_path, args.rows)
        write_keras_csv(small)
        cases = [
            (
                "csv",
                f"{args.rows:,} rows, {csv_path.stat().st_size / 1e6:.1f} MB",
                _in_process(csv_path),
            ),
            (
                "tensorboard",
                f"{args.rows:,} scalars, {tb_path.stat().st_size / 1e6:.1f} MB",
                _in_process(tb_path),
            ),
            ("cli-50-epochs", "plateau-cli diagnose --json, wall", _cli(small)),
        ]
        for name, size, run in cases:
            results.append((name, size, _best(args.repeat, run)))
    print(f"{'case':<15} {'input':<34} {'seconds':>8} {'target':>7}  ok")
    missed = 0
    for name, size, seconds in results:
        target = TARGETS[name]
        ok = seconds <= target
        missed += not ok
        print(f"{name:<15} {size:<34} {seconds:>8.3f} {target:>7.1f}  {'yes' if ok else 'NO'}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
