"""What plateau-cli costs on top of the framework: per-epoch time and start-up time.

Per epoch: `plateau-cli resume` (in-process, lr-decay at a constant rate, no early stopping)
against the plain framework loop on the same model, data and batch size, on two workloads: an
MLP (85 k parameters, 64 features, synthetic rows) and a small ResNet-style CNN (0.27 M
parameters, 32x32x3 synthetic images), at batch 32 and 256, in Keras and torch. plateau-cli
runs twice: with its progress on a pseudo-terminal (`pty`: rich sees a TTY and draws its live
bar) and with its progress going to a file (one line per epoch). torch also runs Lightning's
Trainer when `lightning` is installed.

Each run trains `epochs` epochs; the first (tracing, warm-up) is dropped and the median of the
rest is that run's per-epoch time, in CPU seconds of the process (`time.process_time`: every
thread counted, the progress bar's refresh thread included; wall time on a shared machine
measures the neighbours). Rounds interleave the arms (their order rotates each round)
so a noisy neighbour hits all alike; the ratio plateau-cli / plain is computed per round and
printed as the median with its spread (min-max) over the rounds. Target: <= 1.05.

Every process runs the frameworks on one CPU thread (`torch.set_num_threads(1)`, TensorFlow's
intra/inter-op pools of 1), both arms alike: on a shared 2-core machine two threads per process
made the CNN ten times slower and the timings meaningless.

Start-up: `plateau-cli --help` and `plateau-cli diagnose` on a 40-epoch log against
`python -c 'import typer, rich'`.

    python benchmarks/overhead.py               # the README's figures (~10 min, 2 idle cores)
    python benchmarks/overhead.py --quick       # tiny sizes, one round (the smoke test)
    python benchmarks/overhead.py --framework torch --rounds 5 --json out.json

Each framework runs in its own subprocess (torch and TensorFlow in one process is fragile).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
SAMPLES = ROOT / "sample_models"
NETS = HERE / "bench_nets.py"


@dataclass(frozen=True)
class Sizes:
    mlp_train: int
    cnn_train: int
    epochs: int
    rounds: int
    startup_runs: int


FULL = Sizes(mlp_train=50_000, cnn_train=1024, epochs=3, rounds=3, startup_runs=11)
QUICK = Sizes(mlp_train=2_000, cnn_train=128, epochs=2, rounds=1, startup_runs=2)
BATCHES = (32, 256)
MODELS = ("mlp", "cnn")


def clock() -> float:
    """CPU seconds of this process (all its threads: rich's refresh thread counts too).

    On a machine shared with other jobs, wall time measures the neighbours as much as us;
    the CPU time a process spends is what it costs, whoever else is running.
    """
    return time.process_time()


def one_thread() -> None:
    """Both arms of a comparison on one CPU thread (see the module docstring)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")


# -- data -------------------------------------------------------------------------------------
def make_data(tmp: Path, sizes: Sizes) -> dict[str, Path]:
    """Synthetic, learnable data: labels from a fixed random teacher (seeded)."""
    import numpy as np

    rng = np.random.default_rng(0)
    out: dict[str, Path] = {}
    n, n_val = sizes.mlp_train, max(500, sizes.mlp_train // 10)
    x = rng.standard_normal((n + n_val, 64)).astype(np.float32)
    teacher = rng.standard_normal((64, 10)).astype(np.float32)
    y = (x @ teacher + rng.standard_normal((n + n_val, 10)).astype(np.float32)).argmax(1)
    out["mlp"] = tmp / "mlp.npz"
    np.savez(out["mlp"], x_train=x[:n], y_train=y[:n], x_val=x[n:], y_val=y[n:])
    n, n_val = sizes.cnn_train, max(64, sizes.cnn_train // 4)
    images = rng.random((n + n_val, 32, 32, 3), dtype=np.float32)
    labels = (images.reshape(len(images), 32 * 32 * 3, 1)[:, ::97, 0].sum(1) * 10).astype(int)
    labels = labels % 10
    out["cnn"] = tmp / "cnn.npz"  # NHWC, as Keras wants it
    np.savez(out["cnn"], x_train=images[:n], y_train=labels[:n], x_val=images[n:], y_val=labels[n:])
    nchw = np.ascontiguousarray(images.transpose(0, 3, 1, 2))  # as a torch user stores it
    out["cnn_nchw"] = tmp / "cnn_nchw.npz"
    np.savez(
        out["cnn_nchw"], x_train=nchw[:n], y_train=labels[:n], x_val=nchw[n:], y_val=labels[n:]
    )
    return out


# -- plateau-cli ------------------------------------------------------------------------------
@contextlib.contextmanager
def pseudo_terminal() -> Iterator[io.TextIOWrapper]:
    """A file whose isatty() is True (a pty's slave end), drained by a thread."""
    import pty

    master, slave = pty.openpty()
    stream = os.fdopen(slave, "w", encoding="utf-8", errors="replace")

    def drain() -> None:
        with contextlib.suppress(OSError):
            while os.read(master, 65536):
                pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        yield stream
    finally:
        stream.close()
        os.close(master)
        reader.join(timeout=5)


def plateau_epochs(
    model: Path, data: Path, epochs: int, batch: int, extra: dict, terminal: bool
) -> list[float]:
    from rich.console import Console  # noqa: TID251 (the CLI's own console, on a pty)

    from plateau_cli.adapters.base import LoadOptions
    from plateau_cli.render.console import THEME
    from plateau_cli.render.progress import RichObserver
    from plateau_cli.run.resume import ResumeRequest, run_resume

    durations: list[float] = []

    class Clocked(RichObserver):
        """The CLI's own observer, with a stopwatch around each epoch."""

        start = 0.0

        def on_epoch_begin(self, epoch: int, lr: float | None) -> None:
            super().on_epoch_begin(epoch, lr)
            self.start = clock()

        def on_epoch_end(self, epoch: int, logs) -> None:  # type: ignore[no-untyped-def]
            durations.append(clock() - self.start)
            super().on_epoch_end(epoch, logs)

    with contextlib.ExitStack() as stack:
        out = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        stream = stack.enter_context(pseudo_terminal()) if terminal else io.StringIO()
        console = Console(file=stream, theme=THEME, highlight=False, width=120)
        assert console.is_terminal is terminal
        observer = Clocked(console)
        request = ResumeRequest(
            model=model,
            strategy="lr-decay",
            data=str(data),
            epochs=epochs,
            batch_size=batch,
            patience=None,
            out=out / "run",
            load=LoadOptions(**extra),
        )
        try:
            run_resume(request, observer)
        finally:
            observer.close()
    return durations


# -- torch ------------------------------------------------------------------------------------
def torch_checkpoints(tmp: Path, data: dict[str, Path]) -> dict[str, Path]:
    """Each net after 20 Adam steps, saved as a plain checkpoint dict."""
    import numpy as np
    import torch

    import bench_nets

    out = {}
    for name in MODELS:
        torch.manual_seed(0)
        model = getattr(bench_nets, name)()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        arrays = np.load(data[name])
        x, y = torch_inputs(arrays["x_train"][:640]), torch.from_numpy(arrays["y_train"][:640])
        for start in range(0, 640, 32):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(
                model(x[start : start + 32]), y[start : start + 32]
            ).backward()
            optimizer.step()
        out[name] = tmp / f"{name}.pt"
        state = {"model_state_dict": model.state_dict()}
        torch.save({**state, "optimizer_state_dict": optimizer.state_dict()}, out[name])
    return out


def torch_inputs(x):  # type: ignore[no-untyped-def]
    import torch

    tensor = torch.from_numpy(x)
    if tensor.dim() == 4 and tensor.shape[-1] == 3:  # NHWC -> NCHW
        return tensor.permute(0, 3, 1, 2).contiguous()
    return tensor


def torch_restore(name: str, checkpoint: Path):  # type: ignore[no-untyped-def]
    import torch

    import bench_nets

    state = torch.load(checkpoint, weights_only=True)
    model = getattr(bench_nets, name)()
    model.load_state_dict(state["model_state_dict"])
    optimizer = torch.optim.Adam(model.parameters())
    optimizer.load_state_dict(state["optimizer_state_dict"])
    return model, optimizer


def torch_plain_epochs(name: str, checkpoint: Path, data: Path, epochs: int, batch: int):  # type: ignore[no-untyped-def]
    """The loop a careful person writes: tensors indexed by a seeded permutation (no
    DataLoader), Adam restored, the epoch's mean loss and accuracy and a validation pass read
    once per epoch."""
    import numpy as np
    import torch

    torch.manual_seed(0)
    model, optimizer = torch_restore(name, checkpoint)
    arrays = np.load(data)
    x, y = torch_inputs(arrays["x_train"]), torch.from_numpy(arrays["y_train"])
    xv, yv = torch_inputs(arrays["x_val"]), torch.from_numpy(arrays["y_val"])
    loss_fn = torch.nn.CrossEntropyLoss()
    durations = []
    for _ in range(epochs):
        start = clock()
        model.train()
        order = torch.randperm(len(x))
        total = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        for begin in range(0, len(x), batch):
            index = order[begin : begin + batch]
            xb, yb = x[index], y[index]
            optimizer.zero_grad(set_to_none=True)
            output = model(xb)
            loss = loss_fn(output, yb)
            loss.backward()
            optimizer.step()
            total += loss.detach()
            correct += (output.detach().argmax(1) == yb).sum()
        model.eval()
        with torch.no_grad():
            val = loss_fn(model(xv), yv).item()
        train = total.item(), correct.item()
        durations.append(clock() - start)
    assert math.isfinite(val)  # the loop really computed something
    assert math.isfinite(train[0])
    return durations


def lightning_epochs(name: str, checkpoint: Path, data: Path, epochs: int, batch: int):  # type: ignore[no-untyped-def]
    """Lightning's Trainer on the same net: DataLoaders, no logger, no progress bar."""
    import lightning
    import numpy as np
    import torch

    torch.manual_seed(0)
    model, optimizer = torch_restore(name, checkpoint)
    arrays = np.load(data)
    loader = torch.utils.data.DataLoader
    dataset = torch.utils.data.TensorDataset
    train = loader(
        dataset(torch_inputs(arrays["x_train"]), torch.from_numpy(arrays["y_train"])),
        batch_size=batch,
        shuffle=True,
    )
    val = loader(
        dataset(torch_inputs(arrays["x_val"]), torch.from_numpy(arrays["y_val"])),
        batch_size=1 << 20,
    )
    durations: list[float] = []

    class Module(lightning.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def training_step(self, pair, index):  # type: ignore[no-untyped-def]
            x, y = pair
            output = self.net(x)
            loss = torch.nn.functional.cross_entropy(output, y)
            self.log("acc", (output.argmax(1) == y).float().mean(), on_epoch=True, on_step=False)
            self.log("loss", loss, on_epoch=True, on_step=False)
            return loss

        def validation_step(self, pair, index):  # type: ignore[no-untyped-def]
            x, y = pair
            self.log("val_loss", torch.nn.functional.cross_entropy(self.net(x), y))

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return optimizer

    class Clock(lightning.Callback):
        def on_train_epoch_start(self, trainer, module):  # type: ignore[no-untyped-def]
            self.start = clock()

        def on_train_epoch_end(self, trainer, module):  # type: ignore[no-untyped-def]
            durations.append(clock() - self.start)

    trainer = lightning.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[Clock()],
    )
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    trainer.fit(Module(), train, val)
    return durations


def torch_arms(name: str, ckpt: Path, data: Path, epochs: int, batch: int) -> dict[str, Callable]:
    extra = {"model_factory": f"{NETS}:{name}"}
    arms: dict[str, Callable[[], list[float]]] = {
        "plain": lambda: torch_plain_epochs(name, ckpt, data, epochs, batch),
        "plateau": lambda: plateau_epochs(ckpt, data, epochs, batch, extra, terminal=False),
        "plateau_tty": lambda: plateau_epochs(ckpt, data, epochs, batch, extra, terminal=True),
    }
    try:
        import lightning  # noqa: F401
    except ImportError:
        pass
    else:
        arms["lightning"] = lambda: lightning_epochs(name, ckpt, data, epochs, batch)
    return arms


# -- Keras ------------------------------------------------------------------------------------
def keras_model(name: str):  # type: ignore[no-untyped-def]
    """The Keras twins of bench_nets.mlp and bench_nets.cnn."""
    import keras
    from keras import layers

    if name == "mlp":
        return keras.Sequential(
            [
                keras.Input((64,)),
                layers.Dense(256, activation="relu"),
                layers.Dense(256, activation="relu"),
                layers.Dense(10, activation="softmax"),
            ]
        )

    def conv_bn(x, channels: int, stride: int = 1, relu: bool = True):  # type: ignore[no-untyped-def]
        x = layers.Conv2D(channels, 3, strides=stride, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x) if relu else x

    def residual(x, channels: int):  # type: ignore[no-untyped-def]
        y = conv_bn(conv_bn(x, channels), channels, relu=False)
        return layers.ReLU()(layers.Add()([x, y]))

    inputs = keras.Input((32, 32, 3))
    x = residual(conv_bn(inputs, 32, stride=2), 32)
    x = residual(conv_bn(x, 64, stride=2), 64)
    x = residual(conv_bn(x, 80, stride=2), 80)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(x))


def keras_checkpoints(tmp: Path, data: dict[str, Path]) -> dict[str, Path]:
    import keras
    import numpy as np

    out = {}
    for name in MODELS:
        keras.utils.set_random_seed(0)
        model = keras_model(name)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        arrays = np.load(data[name])
        model.fit(
            arrays["x_train"][:640], arrays["y_train"][:640], batch_size=32, epochs=1, verbose=0
        )
        out[name] = tmp / f"{name}.keras"
        model.save(out[name])
    return out


def keras_plain_epochs(model_path: Path, data: Path, epochs: int, batch: int) -> list[float]:
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    arrays = np.load(data)
    model = keras.models.load_model(model_path)
    durations: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            self.start = clock()

        def on_epoch_end(self, epoch, logs=None):  # type: ignore[no-untyped-def]
            durations.append(clock() - self.start)

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


def keras_arms(name: str, path: Path, data: Path, epochs: int, batch: int) -> dict[str, Callable]:
    return {
        "plain": lambda: keras_plain_epochs(path, data, epochs, batch),
        "plateau": lambda: plateau_epochs(path, data, epochs, batch, {}, terminal=False),
        "plateau_tty": lambda: plateau_epochs(path, data, epochs, batch, {}, terminal=True),
    }


# -- the worker: one framework, every cell, rounds interleaved ----------------------------------
def run_worker(framework: str, sizes: Sizes) -> list[dict]:
    sys.path.insert(0, str(HERE))
    if framework == "torch":
        import torch

        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
    else:
        from plateau_cli.adapters.keras.runtime import import_tensorflow_quietly

        import_tensorflow_quietly()
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        data = make_data(Path(tmp), sizes)
        make = torch_checkpoints if framework == "torch" else keras_checkpoints
        checkpoints = make(Path(tmp), data)
        arms_of = torch_arms if framework == "torch" else keras_arms
        if framework == "torch":
            data["cnn"] = data["cnn_nchw"]
        cells = {
            (name, batch): arms_of(name, checkpoints[name], data[name], sizes.epochs, batch)
            for name in MODELS
            for batch in BATCHES
        }
        times: dict[tuple[str, int], dict[str, list[float]]] = {
            cell: {arm: [] for arm in arms} for cell, arms in cells.items()
        }
        for round_ in range(sizes.rounds):
            for cell, arms in cells.items():
                names = list(arms)
                shift = round_ % len(names)
                for arm in names[shift:] + names[:shift]:  # a different order every round
                    durations = arms[arm]()[1:]  # the first epoch is warm-up
                    times[cell][arm].append(statistics.median(durations))
                    done = f"{framework} {cell} round {round_ + 1} {arm}"
                    print(f"{done}: {times[cell][arm][-1]:.3f}s", file=sys.stderr, flush=True)
    rows = []
    for (name, batch), by_arm in times.items():
        plain = by_arm["plain"]
        row: dict = {
            "framework": framework,
            "model": name,
            "batch_size": batch,
            "train_samples": sizes.mlp_train if name == "mlp" else sizes.cnn_train,
            "plain_s": plain,
        }
        for arm, values in by_arm.items():
            if arm != "plain":
                row[f"{arm}_s"] = values
                row[f"{arm}_ratio"] = [v / p for v, p in zip(values, plain, strict=True)]
        rows.append(row)
    return rows


# -- start-up -----------------------------------------------------------------------------------
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


# -- the report ---------------------------------------------------------------------------------
def spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def print_table(rows: list[dict], rounds: int) -> None:
    lightning = any("lightning_ratio" in r for r in rows)
    print(
        f"Per-epoch CPU time, plateau-cli / plain loop: median (min-max) over {rounds} round(s);"
        " first epoch of each run dropped"
    )
    header = (
        f"{'framework':<10}{'model':<6}{'batch':>6}{'plain s':>9}"
        f"{'file (no TTY)':>19}{'terminal (pty)':>19}"
    )
    print(header + (f"{'Lightning':>19}" if lightning else ""))
    for r in rows:
        line = (
            f"{r['framework']:<10}{r['model']:<6}{r['batch_size']:>6}"
            f"{statistics.median(r['plain_s']):>9.3f}"
            f"{spread(r['plateau_ratio']):>19}{spread(r['plateau_tty_ratio']):>19}"
        )
        if lightning:
            line += f"{spread(r['lightning_ratio']) if 'lightning_ratio' in r else '-':>19}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round (smoke test)")
    parser.add_argument("--framework", choices=["keras", "torch"], help="only this one")
    parser.add_argument("--rounds", type=int, help="rounds of interleaved arms")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    if args.rounds:
        sizes = Sizes(**{**sizes.__dict__, "rounds": args.rounds})
    one_thread()
    if args.worker:
        print(json.dumps(run_worker(args.worker, sizes)))
        return
    rows: list[dict] = []
    for framework in [args.framework] if args.framework else ["keras", "torch"]:
        argv = [sys.executable, __file__, "--worker", framework]
        argv += ["--quick"] if args.quick else []
        argv += ["--rounds", str(sizes.rounds)]
        proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=True)
        rows += json.loads(proc.stdout.strip().splitlines()[-1])
    print_table(rows, sizes.rounds)
    print()
    print("Start-up, wall time of a fresh process")
    print(f"{'command':<46}{'median s':>10}{'min s':>8}")
    start_rows = startup(sizes.startup_runs)
    for row in start_rows:
        print(f"{row['command']:<46}{row['median_s']:>10.3f}{row['min_s']:>8.3f}")
    if args.json:
        args.json.write_text(json.dumps({"per_epoch": rows, "startup": start_rows}, indent=1))


if __name__ == "__main__":
    main()
