"""`--model-factory` and `--data module:function` import only what the user named.

A directory holding the named file also holds other Python files (a `sitecustomize`-like
`evil.py`, the user's half-finished experiments): none of them may be imported unless the named
module imports it itself, and the file-path form must not leave its directory on sys.path,
where it would shadow modules imported later in the run. Every module here records its own
import in a marker file, so the tests see imports, not just sys.modules entries.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from plateau_cli.data import parse_data_spec
from plateau_cli.data.entry_point import load_entry_point
from plateau_cli.entry_points import call, resolve
from plateau_cli.errors import BadInputError

RECORD = """
import os as _os
with open(_os.environ["PLATEAU_IMPORT_LOG"], "a") as _fh:
    _fh.write(__name__.rsplit(".", 1)[-1] + "\\n")
"""


def write(path: Path, body: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(RECORD + textwrap.dedent(body))
    return path


@pytest.fixture
def imports(tmp_path, monkeypatch) -> Path:
    log = tmp_path / "imported.log"
    log.write_text("")
    monkeypatch.setenv("PLATEAU_IMPORT_LOG", str(log))
    names = {"plateau_ep_sibling", "plateau_ep_helper", "plateau_ep_pkg"}
    yield log
    for name in list(sys.modules):
        if name.split(".")[0] in names:
            del sys.modules[name]


def imported(log: Path) -> list[str]:
    return log.read_text().split()


FACTORY = """
import numpy as np

def build(width=3):
    return {"width": width}

def data():
    x = np.zeros((8, 4), np.float32)
    y = np.arange(8) % 2
    return (x, y), (x[:4], y[:4])
"""


def test_file_form_imports_only_the_named_file(tmp_path, imports):
    directory = tmp_path / "user code"
    factory = write(directory / "nets.py", FACTORY)
    write(directory / "plateau_ep_sibling.py")
    write(directory / "tabnanny.py")  # shadows the standard library while the dir is on sys.path
    sys.modules.pop("tabnanny", None)
    path_before = list(sys.path)
    assert call(f"{factory}:build", "--model-factory", {"width": 5}) == {"width": 5}
    assert [n.startswith("_plateau_user_") for n in imported(imports)] == [True]  # named only
    assert "plateau_ep_sibling" not in sys.modules
    assert sys.path == path_before
    assert str(directory) not in sys.path
    assert str(directory.resolve()) not in sys.path
    import tabnanny  # imported later in the run: the real one, not the user's file

    assert Path(tabnanny.__file__).parent != directory
    assert "tabnanny" not in imported(imports)


def test_a_sibling_the_named_file_imports_is_allowed_and_the_path_is_restored(tmp_path, imports):
    directory = tmp_path / "proj"
    factory = write(
        directory / "train.py", "import plateau_ep_helper\nbuild = plateau_ep_helper.build\n"
    )
    write(directory / "plateau_ep_helper.py", FACTORY)
    write(directory / "plateau_ep_sibling.py")
    path_before = list(sys.path)
    assert call(f"{factory}:build", "--model-factory") == {"width": 3}
    named, helper = imported(imports)  # the named file, which imports its helper
    assert named.startswith("_plateau_user_")
    assert helper == "plateau_ep_helper"
    assert sys.path == path_before


def test_dotted_form_imports_the_module_and_its_packages_only(tmp_path, imports, monkeypatch):
    root = tmp_path / "site"
    write(root / "plateau_ep_pkg" / "__init__.py")
    write(root / "plateau_ep_pkg" / "nets.py", FACTORY)
    write(root / "plateau_ep_pkg" / "experiments.py")
    write(root / "plateau_ep_sibling.py")
    monkeypatch.syspath_prepend(str(root))
    assert callable(resolve("plateau_ep_pkg.nets:build", "--model-factory"))
    assert imported(imports) == ["plateau_ep_pkg", "nets"]
    assert "plateau_ep_pkg.experiments" not in sys.modules
    assert "plateau_ep_sibling" not in sys.modules


def test_data_entry_point_imports_only_the_named_file(tmp_path, imports):
    directory = tmp_path / "data code"
    source = write(directory / "loaders.py", FACTORY)
    write(directory / "plateau_ep_sibling.py")
    path_before = list(sys.path)
    bundle = load_entry_point(
        parse_data_spec(f"{source}:data", target=None, val_split=None, seed=0)
    )
    assert len(bundle.train) == 8
    assert len(bundle.val) == 4
    assert [n.startswith("_plateau_user_") for n in imported(imports)] == [True]
    assert "plateau_ep_sibling" not in sys.modules
    assert sys.path == path_before


def test_a_file_that_fails_to_import_leaves_nothing_behind(tmp_path, imports):
    directory = tmp_path / "broken"
    factory = write(directory / "nets.py", "import plateau_ep_helper\nraise RuntimeError('boom')\n")
    write(directory / "plateau_ep_helper.py")
    modules_before, path_before = set(sys.modules), list(sys.path)
    with pytest.raises(BadInputError, match="RuntimeError: boom"):
        resolve(f"{factory}:build", "--model-factory")
    assert sys.path == path_before
    assert not [m for m in set(sys.modules) - modules_before if m.startswith("_plateau_user_")]


@pytest.mark.torch
def test_through_the_cli_nothing_but_the_factory_is_imported(tmp_path, imports, torch_checkpoint):
    pytest.importorskip("torch")
    from tests.e2e.runner import run_cli

    directory = tmp_path / "my project"
    factory = write(directory / "nets.py", """
        from torch import nn

        def mlp():
            return nn.Sequential(nn.Linear(64, 4), nn.ReLU(), nn.Linear(4, 10))
    """)  # fmt: skip
    write(directory / "plateau_ep_sibling.py")
    result = run_cli(["inspect", str(torch_checkpoint), "--model-factory", f"{factory}:mlp"])
    assert result.code == 0, result.stderr
    assert [n.startswith("_plateau_user_") for n in imported(imports)] == [True]
    assert "plateau_ep_sibling" not in sys.modules
    assert str(directory) not in sys.path
