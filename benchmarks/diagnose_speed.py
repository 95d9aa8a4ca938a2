"""How fast `plateau-cli diagnose` is end to end, as a user runs it (issue 19, item 4).

    python benchmarks/diagnose_speed.py               # 1,000,000 rows / scalars, 3 rounds
    python benchmarks/diagnose_speed.py --rows 2000   # a quick smoke run

Every case runs `plateau-cli diagnose FILE` in a fresh interpreter (a subprocess, output piped)
and times the wall clock: interpreter start, reading, diagnosing and drawing the chart. The
bytecode is compiled once before the rounds, as an installed package has it. Cases:

1. csv-steps: a step-level CSV, one row per optimiser step (1M rows; target 2 s);
2. lightning-csv: a Lightning-style metrics.csv with step rows and per-epoch rows (target 2 s);
3. tensorboard: an event file with N scalars written record by record as SummaryWriter would
   (target 5 s for 1M);
4. cli-50-epochs: a 50-epoch Keras CSVLogger file (target 0.5 s).

Printed: the wall-clock median, min and max over `--rounds` rounds, the median CPU seconds
(user + system: on a shared machine wall time also counts waiting for a core), and the peak
resident memory. Generating
the inputs is not timed. `--check` exits 1 when a median misses its target.
"""

from __future__ import annotations

import argparse
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 100
TARGETS = {"csv": 2.0, "tb": 5.0, "cli-50-epochs": 0.5}


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


def write_step_csv(path: Path, rows: int) -> None:
    """A step-level log: one CSVLogger-style row per optimiser step (loss and val_loss)."""
    loss = _curve(rows, seed=2)
    val = loss + 0.05 + np.random.default_rng(3).normal(0.0, 0.03, rows)
    table = np.column_stack([np.arange(rows), loss, val])
    with path.open("w") as handle:
        handle.write("epoch,loss,val_loss\n")
        np.savetxt(handle, table, fmt=["%d", "%.6f", "%.6f"], delimiter=",")


#: Runs the CLI as a user does and reports its peak memory (VmHWM, Linux) on stderr's last line.
_CHILD = (
    "import atexit, runpy, sys\n"
    "def _peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            sys.stderr.write('\\nMAXRSS_KB ' + line.split()[1] + '\\n')\n"
    "atexit.register(_peak)\n"
    "sys.argv = ['plateau-cli', 'diagnose', sys.argv[1]]\n"
    "runpy.run_module('plateau_cli', run_name='__main__', alter_sys=True)\n"
)


class Timing(NamedTuple):
    """One case's rounds (a NamedTuple: the smoke test loads this script without importing it)."""

    seconds: list[float]
    #: CPU seconds (user + system) of each round: on a shared, loaded machine wall time
    #: includes waiting for a core, CPU time does not.
    cpu: list[float]
    peak_mb: float

    @property
    def median(self) -> float:
        return float(np.median(self.seconds))


def time_cli(path: Path, rounds: int, pycache: Path) -> Timing:
    """`plateau-cli diagnose PATH` in a fresh interpreter, `rounds` times: wall seconds each
    (interpreter start, reading, diagnosing and drawing all included) and the peak memory."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "100"
    # As installed: pip compiles a package's bytecode, so a user's run reads it. A checkout run
    # under PYTHONDONTWRITEBYTECODE=1 would compile plateau-cli's ~100 modules every time
    # (+0.06-0.1 s CPU, measured); the caches go to a directory of their own, written by one
    # untimed run first.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    command = [sys.executable, "-c", _CHILD, str(path)]
    subprocess.run(command, capture_output=True, env=env, check=False)
    seconds, cpu, peak = [], [], 0.0
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, env=env, check=False, text=True)
        seconds.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode not in (0, 1):
            raise SystemExit(f"plateau-cli diagnose failed ({done.returncode}): {done.stderr!r}")
        tail = done.stderr.strip().rsplit("MAXRSS_KB", 1)[-1].split()
        peak = max(peak, int(tail[0]) / 1024 if tail else 0.0)
    return Timing(seconds, cpu, peak)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time `plateau-cli diagnose` on big logs.")
    parser.add_argument("--rows", type=int, default=1_000_000, help="CSV rows / event scalars")
    parser.add_argument("--rounds", type=int, default=3, help="runs per case (median, spread)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory(prefix="plateau-bench-") as tmp:
        work = Path(tmp)
        steps = work / "steps.csv"
        lightning = work / "metrics.csv"
        events = work / "events.out.tfevents.1700000000.bench"
        small = work / "keras_50_epochs.csv"
        write_step_csv(steps, args.rows)
        write_lightning_csv(lightning, args.rows)
        write_big_events(events, args.rows)
        write_keras_csv(small)
        cases = [
            ("csv-steps", f"{args.rows:,} step rows, {_mb(steps)}", steps, TARGETS["csv"]),
            ("lightning-csv", f"{args.rows:,} rows, {_mb(lightning)}", lightning, TARGETS["csv"]),
            ("tensorboard", f"{args.rows:,} scalars, {_mb(events)}", events, TARGETS["tb"]),
            ("cli-50-epochs", "50-epoch Keras CSVLogger", small, TARGETS["cli-50-epochs"]),
        ]
        for name, size, path, target in cases:
            results.append((name, size, target, time_cli(path, args.rounds, work / "pycache")))
    print(f"wall seconds of `plateau-cli diagnose FILE` in a subprocess, {args.rounds} rounds")
    print(f"(load average at the start: {load:.1f} on {os.cpu_count()} cores)")
    print(
        f"{'case':<14} {'input':<32} {'median':>7} {'min':>6} {'max':>6} {'cpu':>6}"
        f" {'peak MB':>8} {'target':>7}  ok"
    )
    missed = 0
    for name, size, target, timing in results:
        ok = timing.median <= target
        missed += not ok
        print(
            f"{name:<14} {size:<32} {timing.median:>7.2f} {min(timing.seconds):>6.2f}"
            f" {max(timing.seconds):>6.2f} {float(np.median(timing.cpu)):>6.2f}"
            f" {timing.peak_mb:>8.0f} {target:>7.1f}"
            f"  {'yes' if ok else 'NO'}"
        )
    return 1 if args.check and missed else 0


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


if __name__ == "__main__":
    raise SystemExit(main())
