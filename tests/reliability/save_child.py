"""Kill a save with SIGKILL at chosen points; run by tests/reliability/test_kill_during_save.py.

    python -m tests.reliability.save_child KIND WORKDIR POINTS

KIND is `text` (plateau_cli.atomic: report.json through `write_text`, history.csv through
`write_with`), `artefacts` (the whole set `resume` writes, through `write_artefacts`, for the
numpy test double of tests/fakes.py), `torch` (a checkpoint dict through `TorchHandle.save`)
or `keras` (`KerasHandle.save`, a real `model.save`). The driver loads the framework once, writes
generation A into `WORKDIR/live/` completely, then for every kill point forks a child that
writes generation B over it and SIGKILLs itself at the k-th profiler event of the save:
`sys.setprofile` sees every Python call and every call into C (`os.replace`, `os.fsync`,
zipfile's and h5py's writes...), so the kill lands inside Keras', torch's and our own code
alike, at a point chosen deterministically, which a random delay cannot promise. A first
forked child only counts the events and notes where `os.replace` / `os.fsync` are called;
the points are spread evenly over that count, plus the instants just before and just after
each `os.replace` (the window atomic writes exist for).

After each kill the live directory is copied to `WORKDIR/after/<k>/` as the kill left it
(temporary files included); the test checks those copies. `WORKDIR/manifest.json` lists what
happened. Nothing here asserts: the test does.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: C functions whose call sites are kill points of their own.
_KEY_CALLS = ("replace", "fsync", "rename")
_CHILD_TIMEOUT_S = 120
#: A valid 1x1 PNG.
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def _text_generation(label: str) -> Callable[[Path], None]:
    from plateau_cli import atomic

    def save(directory: Path) -> None:
        doc = {"generation": label, "rows": [[i, i * 0.5] for i in range(4000)], "end": True}
        atomic.write_text(directory / "report.json", json.dumps(doc) + "\n")

        def rows(fh: Any) -> None:
            fh.write("epoch,loss,generation\n")
            for i in range(3000):
                fh.write(f"{i},{i * 0.25},{label}\n")
            fh.write(f"end,end,{label}\n")

        atomic.write_with(directory / "history.csv", rows)

    return save


def _artefact_generations(workdir: Path) -> tuple[Callable[[Path], None], ...]:
    """Run a real (numpy) resume up to the artefacts, then write them as generation A or B."""
    from plateau_cli import atomic, registry
    from plateau_cli.adapters.sniff import Sniffed
    from plateau_cli.report import writer
    from plateau_cli.run import resume
    from tests.fakes import blobs

    bundle = blobs()
    data, model = workdir / "data.npz", workdir / "model.npz"
    np_ = __import__("numpy")
    np_.savez(data, x_train=bundle.train.x, y_train=bundle.train.y, x_val=bundle.val.x,
              y_val=bundle.val.y)  # fmt: skip
    np_.savez(model, w=np_.zeros((8, 3)), b=np_.zeros(3))
    registry.ADAPTERS["numpy"] = "tests.core.test_resume_pipeline:NumpyAdapter"
    resume.sniff_checkpoint = lambda path: Sniffed("numpy", "numpy-npz")  # type: ignore[assignment]
    captured: dict[str, Any] = {}

    def capture(report: Any, handle: Any, out_dir: Path, started: float, **_: Any) -> Any:
        captured.update(report=report, handle=handle, started=started)
        return report

    resume.write_artefacts = capture  # type: ignore[assignment]
    # Drawing the curves is a million profiler events of matplotlib that make every kill run
    # slow and are not what is tested here; the PNG still goes through the atomic writer.
    writer.write_curves = lambda path, report: atomic.write_bytes(path, _PNG)  # type: ignore[assignment]
    resume.run_resume(
        resume.ResumeRequest(model=model, strategy="lr-decay", data=str(data), epochs=3,
                             out=workdir / "unused")
    )  # fmt: skip

    def generation(offset: float) -> Callable[[Path], None]:
        def save(directory: Path) -> None:
            handle = captured["handle"]
            handle.w, handle.b = handle.w * 0 + offset, handle.b * 0 + offset
            writer.write_artefacts(captured["report"], handle, directory, captured["started"])

        return save

    return generation(0.0), generation(1.0)


def _torch_handle(workdir: Path) -> Any:
    import torch

    from plateau_cli.adapters.base import LoadOptions
    from plateau_cli.adapters.torch.adapter import TorchAdapter

    nets = Path(__file__).resolve().parents[1] / "fixtures" / "torch" / "nets.py"
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    source = workdir / "source.pt"
    torch.save(
        {"epoch": 1, "model_state_dict": model.state_dict(),
         "optimizer_state_dict": optimizer.state_dict()},
        source,
    )  # fmt: skip
    options = LoadOptions(model_factory=f"{nets}:mlp", factory_args={"hidden": 256}, device="cpu")
    return TorchAdapter().load(source, "torch-zip", options)


def _keras_handle(workdir: Path) -> Any:
    import keras

    from plateau_cli.adapters.base import LoadOptions
    from plateau_cli.adapters.keras.adapter import KerasAdapter

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10)]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    source = workdir / "source.keras"
    model.save(source)
    return KerasAdapter().load(source, "keras-v3", LoadOptions())


def _framework_generation(handle: Any, name: str, label: str) -> Callable[[Path], None]:
    """Generation A: the weights as loaded, plus 0; generation B: plus 1 (told apart on load)."""
    offset = 0.0 if label == "A" else 1.0

    def save(directory: Path) -> None:
        if handle.framework == "torch":
            import torch

            with torch.no_grad():
                for parameter in handle.model.parameters():
                    parameter.copy_(parameter.detach() * 0 + offset)
        else:
            handle.model.set_weights([w * 0 + offset for w in handle.model.get_weights()])
        handle.save(directory / name, epochs_done=1)

    return save


class _Profiler:
    """Counts profiler events; in kill mode SIGKILLs the process at event `kill_at`."""

    def __init__(self, kill_at: int | None) -> None:
        self.kill_at = kill_at
        self.count = 0
        self.key_events: list[tuple[int, str]] = []

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        self.count += 1
        if self.count == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.kill_at is None and event in ("c_call", "c_return"):
            name = getattr(arg, "__name__", "")
            if name in _KEY_CALLS and getattr(arg, "__module__", "") in ("posix", "nt", "os"):
                self.key_events.append((self.count, f"{event}:{name}"))


def _in_child(save: Callable[[Path], None], live: Path, kill_at: int | None, report: Path) -> int:
    """Fork; the child runs `save(live)` under the profiler. Returns how the child ended."""
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            profiler = _Profiler(kill_at)
            sys.setprofile(profiler)
            try:
                save(live)
            finally:
                sys.setprofile(None)
            if kill_at is None:
                report.write_text(
                    json.dumps({"count": profiler.count, "key_events": profiler.key_events})
                )
        except BaseException as exc:
            sys.stderr.write(f"save failed in the child: {type(exc).__name__}: {exc}\n")
            code = 3
        os._exit(code)
    deadline = time.monotonic() + _CHILD_TIMEOUT_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -999  # hung
        time.sleep(0.01)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _points(count: int, key_events: list[tuple[int, str]], n: int) -> list[int]:
    spread = {max(1, round(count * (i + 0.5) / n)) for i in range(n)}
    around = set()
    for index, label in key_events:
        if label.endswith("replace"):
            around |= {index, index + 1}  # just before the rename runs, just after it returned
        else:
            around.add(index)
    return sorted(p for p in spread | around if 1 <= p <= count)


def main(argv: list[str]) -> int:
    kind, workdir, n = argv[1], Path(argv[2]), int(argv[3])
    previous = len(argv) < 5 or argv[4] != "fresh"  # "fresh": no generation A on disk
    if kind == "text":
        name = "report.json"
        gen_a, gen_b = _text_generation("A"), _text_generation("B")
    elif kind == "artefacts":
        name = "model.npz"
        gen_a, gen_b = _artefact_generations(workdir)
    else:
        if kind == "torch":
            import torch  # noqa: F401 - before anything can import TensorFlow

            handle, name = _torch_handle(workdir), "checkpoint.pt"
        else:
            handle, name = _keras_handle(workdir), "model.keras"
        gen_a = _framework_generation(handle, name, "A")
        gen_b = _framework_generation(handle, name, "B")
    pristine = workdir / "pristine"
    pristine.mkdir()
    if previous:
        gen_a(pristine)
    live = workdir / "live"
    counted = workdir / "count.json"
    shutil.copytree(pristine, live)
    status = _in_child(gen_b, live, None, counted)
    if status != 0:
        sys.stderr.write(f"the counting run failed (status {status})\n")
        return 1
    facts = json.loads(counted.read_text())
    outcomes = {}
    for point in _points(facts["count"], facts["key_events"], n):
        shutil.rmtree(live)
        shutil.copytree(pristine, live)
        outcomes[point] = _in_child(gen_b, live, point, counted)
        shutil.copytree(live, workdir / "after" / str(point))
    manifest = {
        "kind": kind,
        "name": name,
        "previous": previous,
        "events": facts["count"],
        "key_events": facts["key_events"],
        "outcomes": outcomes,
    }
    (workdir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
