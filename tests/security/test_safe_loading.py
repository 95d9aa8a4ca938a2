"""Default-safe loading everywhere: `weights_only=True`, `safe_mode=True`, `allow_pickle=False`.

Checked twice. Statically, over every module of the package: each call that can deserialise
code passes the safe flag, the one unsafe torch.load sits behind `--trust-pickle`, and nothing
calls pickle, marshal, eval or exec at all (a new helper that does fails here). At run time,
through the CLI: spies on `torch.load` and `keras.models.load_model` see only safe calls, also
with --trust-pickle when the file does not need it.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tests.e2e.runner import run_cli
from tests.security.conftest import MLP_FACTORY

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "plateau_cli"
#: (module, function) allowed one `torch.load(..., weights_only=False)`: behind --trust-pickle.
TRUSTED_LOAD = {("adapters/torch/loading.py", "load_torch_file")}
FORBIDDEN_MODULES = {"pickle", "_pickle", "marshal", "dill", "cloudpickle", "joblib", "shelve"}
FORBIDDEN_BUILTINS = {"eval", "exec"}


def calls() -> list[tuple[str, str, ast.Call]]:
    """(module path, enclosing function, call) for every call in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = str(path.relative_to(PACKAGE))

        def visit(node: ast.AST, function: str, module: str = module) -> None:
            for child in ast.iter_child_nodes(node):
                name = child.name if isinstance(child, ast.FunctionDef) else function
                if isinstance(child, ast.Call):
                    found.append((module, function, child))
                visit(child, name)

        visit(ast.parse(path.read_text(), str(path)), "<module>")
    return found


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return "?"


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


ALL_CALLS = calls()


def test_the_scan_sees_the_loaders():
    names = {dotted(call.func) for _, _, call in ALL_CALLS}
    assert {"torch.load", "keras.models.load_model", "np.load"} <= names


def test_every_torch_load_is_weights_only_unless_trusted():
    for module, function, call in ALL_CALLS:
        if dotted(call.func) != "torch.load":
            continue
        flag = keyword(call, "weights_only")
        assert isinstance(flag, ast.Constant), f"{module}:{call.lineno} torch.load without a flag"
        if flag.value is not True:
            assert (module, function) in TRUSTED_LOAD, f"{module}:{call.lineno} unsafe torch.load"


def test_the_trusted_torch_load_is_behind_trust_pickle():
    """Safe load first; then `if not trust_pickle: raise`; only then the unsafe load."""
    tree = ast.parse((PACKAGE / "adapters" / "torch" / "loading.py").read_text())
    function = next(
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "load_torch_file"
    )
    loads = {
        keyword(n, "weights_only").value: n.lineno  # type: ignore[union-attr]
        for n in ast.walk(function)
        if isinstance(n, ast.Call) and dotted(n.func) == "torch.load"
    }
    guard = next(
        n
        for n in ast.walk(function)
        if isinstance(n, ast.If) and ast.unparse(n.test) == "not trust_pickle"
    )
    assert isinstance(guard.body[-1], ast.Raise)
    assert loads[True] < guard.lineno < loads[False]


def test_every_keras_load_model_is_safe_unless_trusted():
    for module, _, call in ALL_CALLS:
        if not dotted(call.func).endswith("load_model"):
            continue
        flag = keyword(call, "safe_mode")
        assert flag is not None, f"{module}:{call.lineno} load_model without safe_mode"
        assert not (isinstance(flag, ast.Constant) and flag.value is False)
        assert "trust_pickle" in ast.unparse(flag), f"{module}:{call.lineno}: {ast.unparse(flag)}"


def test_every_numpy_load_refuses_pickles():
    for module, _, call in ALL_CALLS:
        if dotted(call.func) in ("np.load", "numpy.load"):
            flag = keyword(call, "allow_pickle")
            assert isinstance(flag, ast.Constant), f"{module}:{call.lineno}"
            assert flag.value is False, f"{module}:{call.lineno}"


def test_nothing_unpickles_or_evaluates_code_directly():
    for module, _, call in ALL_CALLS:
        name = dotted(call.func)
        if name == "pickle.UnpicklingError":  # raising the refusal unpickles nothing
            continue
        assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{module}:{call.lineno} {name}"
        assert name not in FORBIDDEN_BUILTINS, f"{module}:{call.lineno} {name}"
        assert name not in ("yaml.load", "yaml.unsafe_load"), f"{module}:{call.lineno} {name}"


# -- at run time -------------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("trust", [False, True], ids=["default", "trust-pickle"])
def test_torch_loads_are_weights_only_at_run_time(trust, torch_checkpoint, digits, tmp_path,
                                                  monkeypatch):  # fmt: skip
    torch = pytest.importorskip("torch")
    seen: list[object] = []
    real = torch.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("weights_only", "<torch's default>"))
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    extra = ["--trust-pickle"] if trust else []
    result = run_cli(["inspect", str(torch_checkpoint), "--model-factory", MLP_FACTORY, *extra])
    assert result.code == 0, result.stderr
    result = run_cli(
        ["resume", str(torch_checkpoint), "--model-factory", MLP_FACTORY, "--strategy",
         "lr-decay", "--data", str(digits), "--epochs", "1", "--out", str(tmp_path / "o"),
         "--quiet", *extra]
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert seen == [True, True]  # one safe load per command; the file never needed more


@pytest.mark.keras
def test_keras_loads_are_safe_mode_at_run_time(tmp_path, digits, monkeypatch):
    keras = pytest.importorskip("keras")
    from tests.e2e.keras_plateau import stalled_keras_model

    model = stalled_keras_model(tmp_path / "model.keras", digits, epochs=1)
    seen: list[object] = []
    real = keras.models.load_model

    def spy(*args, **kwargs):
        seen.append(kwargs.get("safe_mode", "<keras' default>"))
        return real(*args, **kwargs)

    monkeypatch.setattr(keras.models, "load_model", spy)
    result = run_cli(["inspect", str(model), "--json"])
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["format"] == "keras-v3"
    assert seen == [True]
