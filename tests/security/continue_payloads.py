"""`resume --continue DIR` directories that try to make plateau-cli run code or read outside DIR.

`interrupted_run` makes a real interrupted run (SIGINT requested after epoch 1, in process, as
the trainer's own guard receives it). `edited` copies it and changes its report.json: the
payloads are what an attacker who hands over an output directory controls, nothing more.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.runner import run_cli


def interrupted_run(out: Path, model: Path, data: Path, factory: str) -> Path:
    """A torch lr-decay run of 3 epochs, interrupted after the first."""
    import pytest

    from plateau_cli.run import trainer as trainer_module

    original = trainer_module.Trainer.on_epoch_end

    def stop_after_first(self: Any, epoch: int, logs: Any) -> Any:
        if epoch == 1:
            self.guard.request("SIGINT")
        return original(self, epoch, logs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer_module.Trainer, "on_epoch_end", stop_after_first)
        result = run_cli(
            ["resume", str(model), "--model-factory", factory, "--strategy", "lr-decay",
             "--data", str(data), "--epochs", "3", "--patience", "5", "--out", str(out), "-q"]
        )  # fmt: skip
    assert result.code == 130, result.stderr
    return out


def edited(source: Path, target: Path, edit: Callable[[dict[str, Any], Path], None]) -> Path:
    """A copy of the run at `source` whose report.json `edit(doc, target)` has changed."""
    shutil.copytree(source, target)
    report = target / "report.json"
    doc = json.loads(report.read_text())
    edit(doc, target)
    report.write_text(json.dumps(doc))
    return target


def request(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["continuation"]["request"]


def names_shell_factory(marker: Path) -> Callable[[dict[str, Any], Path], None]:
    """The report's model factory is `subprocess:getoutput`, its argument a shell command."""

    def edit(doc: dict[str, Any], _: Path) -> None:
        request(doc)["load"]["model_factory"] = "subprocess:getoutput"
        request(doc)["load"]["factory_args"] = {"cmd": f"touch {marker}"}

    return edit


def _marker_code(marker: Path) -> str:
    return f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"


def factory_file_inside(marker: Path) -> Callable[[dict[str, Any], Path], None]:
    """A nets.py inside DIR whose import writes the marker, named as the model factory."""

    def edit(doc: dict[str, Any], directory: Path) -> None:
        (directory / "nets.py").write_text(_marker_code(marker) + "def build():\n    return None\n")
        request(doc)["load"]["model_factory"] = f"{directory / 'nets.py'}:build"

    return edit


def data_function_inside(marker: Path) -> Callable[[dict[str, Any], Path], None]:
    """A data.py inside DIR whose import writes the marker, named as `--data`."""

    def edit(doc: dict[str, Any], directory: Path) -> None:
        (directory / "data.py").write_text(_marker_code(marker) + "def load():\n    return None\n")
        request(doc)["data"] = f"{directory / 'data.py'}:load"

    return edit


def checkpoint_at(name: str) -> Callable[[dict[str, Any], Path], None]:
    """The continuation checkpoint named as `name` (`../../x.pt`, an absolute path...)."""

    def edit(doc: dict[str, Any], _: Path) -> None:
        doc["continuation"]["checkpoint"] = name

    return edit


def checkpoint_symlink_to(outside: Path) -> Callable[[dict[str, Any], Path], None]:
    """The continuation checkpoint inside DIR replaced by a symlink to a file outside it."""

    def edit(doc: dict[str, Any], directory: Path) -> None:
        inside = directory / doc["continuation"]["checkpoint"]
        inside.unlink()
        inside.symlink_to(outside)

    return edit


def damaged(dotted: str, value: Any) -> Callable[[dict[str, Any], Path], None]:
    """Set (or, with value ..., delete) one field of the report."""

    def edit(doc: dict[str, Any], _: Path) -> None:
        *parents, last = dotted.split(".")
        node = doc
        for part in parents:
            node = node[part]
        if value is ...:
            del node[last]
        else:
            node[last] = value

    return edit
