"""SIGKILL `plateau-cli resume` at chosen moments, then `--continue`; run by test_kill_loop.py.

    python -m tests.reliability.kill_loop_child WORKDIR N -- RESUME ARGS...

The driver imports torch and plateau-cli once, then forks every run (a process start costs
seconds here; a fork, milliseconds): each child runs `plateau_cli.cli.main` exactly as the
console script does, with `--out WORKDIR/runs/<k> --overwrite` into a copy of an older,
finished run (`WORKDIR/old`), so a kill that left any of the old run's files beside the new
one would show.

Kill points are events counted in the child, not delays: the call of `os.replace` that ends
every atomic save (killed just before it: the temporary file is complete, the rename not done;
and just after it), every `shutil.rmtree` (dropping an old recovery folder or `.continue/`),
every history.csv append, and training batches. A first child runs the whole resume and lists
the events; the N points are every save (just before its rename) plus others spread over the
rest. After each kill, `resume --continue` runs in a second child without a kill.

Each child appends the epochs it trained (logged before the epoch's recovery save) to
`WORKDIR/epochs/<k>.<phase>`, one line each: how many epochs a kill cost.
`WORKDIR/manifest.json` lists every point, its label, how the killed child ended and the
continue's exit code. Nothing here asserts: the test does.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch  # noqa: TID253 - first, as in every process that may load both frameworks

_CHILD_TIMEOUT_S = 120
#: A valid 1x1 PNG.
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


class _Events:
    """Counts labelled events; SIGKILLs the process at event number `kill_at` (1-based)."""

    def __init__(self, kill_at: int | None, log: Path) -> None:
        self.kill_at = kill_at
        self.labels: list[str] = []
        self.log = log

    def __call__(self, label: str) -> None:
        self.labels.append(label)
        if len(self.labels) == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


def _install(events: _Events, epochs_log: Path) -> None:
    """Route the run's saves, deletions, appends, batches and epochs through `events`."""
    from plateau_cli import atomic
    from plateau_cli.report import writer
    from plateau_cli.run import recovery, trainer

    # Drawing the curves is seconds of matplotlib per run and not what is tested; the PNG still
    # goes through the atomic writer, so its save is a kill point like any other.
    writer.write_curves = lambda path, report: atomic.write_bytes(path, _PNG)  # type: ignore[assignment]

    real_replace, real_rmtree = os.replace, shutil.rmtree
    real_append = recovery.append_history_row

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        name = Path(dst).name
        events(f"before-rename:{name}")
        real_replace(src, dst, *args, **kwargs)
        events(f"after-rename:{name}")

    def rmtree(path: Any, *args: Any, **kwargs: Any) -> None:
        events(f"rmtree:{Path(path).name}")
        real_rmtree(path, *args, **kwargs)

    def append(path: Path, record: Any) -> None:
        events(f"append:epoch-{record.epoch}")
        real_append(path, record)

    on_batch_end = trainer.Trainer.on_batch_end
    on_epoch_end = trainer.Trainer.on_epoch_end

    def batch(self: Any, epoch: int, index: int, logs: Any) -> bool:
        if index == 1:
            events(f"batch:{epoch}.{index}")
        return on_batch_end(self, epoch, index, logs)

    def epoch_end(self: Any, epoch: int, logs: Any) -> bool:
        if self.state.stop_reason is None:  # a whole epoch was trained: logged before its save
            with open(epochs_log, "a", encoding="ascii") as fh:
                fh.write(f"{epoch}\n")
        return on_epoch_end(self, epoch, logs)

    os.replace = replace  # type: ignore[assignment]
    shutil.rmtree = rmtree  # type: ignore[assignment]
    recovery.append_history_row = append  # type: ignore[assignment]
    trainer.Trainer.on_batch_end = batch  # type: ignore[method-assign]
    trainer.Trainer.on_epoch_end = epoch_end  # type: ignore[method-assign]


def _child(argv: list[str], kill_at: int | None, epochs_log: Path, labels: Path | None) -> int:
    """Fork; the child runs the CLI (killed at `kill_at`). Returns how the child ended."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            torch.set_num_threads(1)
            events = _Events(kill_at, epochs_log)
            _install(events, epochs_log)
            from plateau_cli.cli import main

            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    main(argv)
                except SystemExit as exc:
                    code = int(exc.code or 0)
            if labels is not None:
                labels.write_text(json.dumps(events.labels))
        except BaseException as exc:
            sys.stderr.write(f"child failed: {type(exc).__name__}: {exc}\n")
            code = 99
        sys.stderr.flush()
        os._exit(code)
    deadline = time.monotonic() + _CHILD_TIMEOUT_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -999
        time.sleep(0.02)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _points(labels: list[str], n: int) -> list[int]:
    """Every save (just before its rename), then other events spread evenly, n in all."""
    saves = [i + 1 for i, label in enumerate(labels) if label.startswith("before-rename:")]
    others = [i + 1 for i in range(len(labels)) if i + 1 not in saves]
    room = max(0, n - len(saves))
    spread = [others[round(k * (len(others) - 1) / max(1, room - 1))] for k in range(room)]
    return sorted(set(saves[:n]) | set(spread))


def _preload() -> None:
    """Import once in the driver what every child would import again (seconds per child)."""
    import plateau_cli.adapters.torch.adapter
    import plateau_cli.cli
    import plateau_cli.render.resume
    import plateau_cli.run.resume_continue  # noqa: F401


def main(argv: list[str]) -> int:
    workdir, n = Path(argv[1]), int(argv[2])
    _preload()
    args = argv[argv.index("--") + 1 :]
    (workdir / "epochs").mkdir(parents=True, exist_ok=True)
    runs = workdir / "runs"
    old = workdir / "old"
    # The older run every kill directory starts from: a finished resume of the same model.
    # Another seed, so no file of it can equal one of the runs under test by chance.
    older = [*args, "--seed", "7", "--out", str(old)]
    status = _child(older, None, workdir / "epochs" / "old", None)
    if status != 0:
        sys.stderr.write(f"the older run failed (status {status})\n")
        return 1
    shutil.copytree(old, runs / "count")
    labels_file = workdir / "labels.json"
    run = [*args, "--out", str(runs / "count"), "--overwrite"]
    status = _child(run, None, workdir / "epochs" / "count.run", labels_file)
    if status != 0:
        sys.stderr.write(f"the counting run failed (status {status})\n")
        return 1
    labels = json.loads(labels_file.read_text())
    outcomes: list[dict[str, Any]] = []
    for point in _points(labels, n):
        out = runs / str(point)
        shutil.copytree(old, out)
        killed = _child(
            [*args, "--out", str(out), "--overwrite"], point, workdir / "epochs" / f"{point}.run",
            None,
        )  # fmt: skip
        shutil.copytree(out, workdir / "after" / str(point), symlinks=True)
        resumed = _child(
            ["resume", "--continue", str(out), "--json", *_code_args(args)], None,
            workdir / "epochs" / f"{point}.continue", None,
        )  # fmt: skip
        outcomes.append(
            {"point": point, "label": labels[point - 1], "killed": killed, "continued": resumed}
        )
    manifest = {"labels": labels, "outcomes": outcomes}
    (workdir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return 0


def _code_args(args: list[str]) -> list[str]:
    """The --model-factory and --factory-arg options: `--continue` runs code only when the
    user names it again."""
    picked = []
    for i, word in enumerate(args[:-1]):
        if word in ("--model-factory", "--factory-arg"):
            picked += [word, args[i + 1]]
    return picked


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
