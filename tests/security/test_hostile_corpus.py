"""The hostile corpus (tests/fixtures/hostile/, see make_hostile.py) through the real CLI.

Every file goes through every command it could be handed to, as CI would hand it: `inspect`,
`resume` (and `resume --data` for hostile data), `diagnose` for logs. Each run must end with
exit 2 and exactly one line on stderr, no traceback, within a time bound; the payload's marker
file must not appear; and nothing may be written anywhere: the test's whole directory tree, the
corpus directory and a private TMPDIR are compared before and after (the process runs from a
directory four levels down, so a `../../` member would land inside the compared tree), and the
absolute paths the traversal archives name must not exist.

The payloads are live: the last tests open the same files with --trust-pickle (or with
numpy's allow_pickle) and see the marker appear. So the refusals above are what keeps the code
from running, not a payload that never worked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.runner import CliResult, run_cli
from tests.security.conftest import HOSTILE, MLP_FACTORY, load_make_hostile

make_hostile = load_make_hostile()
CORPUS = make_hostile.CORPUS
#: Files that only exist if something extracted a traversal member or ran a payload blindly.
OUTSIDE = [
    Path("/tmp/plateau-hostile-absolute.txt"),
    Path("/plateau-hostile-traversal.txt"),
    Path(make_hostile.DEFAULT_MARKER),
]


def tree(root: Path) -> dict[str, str]:
    """Every file below `root` with its content hash (directories by name)."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        out[key] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def framework_of(name: str) -> str:
    if name.endswith((".keras", ".h5")):
        return "keras"
    if name.endswith((".pt", ".ckpt", ".safetensors")):
        return "torch"
    return "none"


def command_line(command: str, path: Path, digits: Path, checkpoint: Path, out: Path) -> list[str]:
    factory = ["--model-factory", MLP_FACTORY]
    if command == "inspect":
        return ["inspect", str(path), *(factory if framework_of(path.name) == "torch" else [])]
    if command == "resume":
        args = ["resume", str(path), "--strategy", "lr-decay", "--data", str(digits)]
        args += ["--epochs", "1", "--out", str(out)]
        return args + (factory if framework_of(path.name) == "torch" else [])
    if command == "resume-data":
        return ["resume", str(checkpoint), *factory, "--strategy", "lr-decay", "--data",
                str(path), "--epochs", "1", "--out", str(out)]  # fmt: skip
    if command == "diagnose":
        return ["diagnose", str(path), "--json"]
    raise AssertionError(command)


CASES = [(name, command) for name, (_, commands) in CORPUS.items() for command in commands]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A deep working directory, a private TMPDIR and the marker path, all inside tmp_path."""
    cwd = tmp_path / "a" / "b" / "c" / "d"
    cwd.mkdir(parents=True)
    private_tmp = tmp_path / "tmpdir"
    private_tmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    marker = tmp_path / "MARKER"
    monkeypatch.setenv(make_hostile.MARKER_ENV, str(marker))
    return tmp_path, marker


def run_contained(args: list[str], root: Path, marker: Path) -> CliResult:
    before, corpus_before = tree(root), tree(HOSTILE)
    result = run_cli(args)  # a hang is bounded by the test's pytest-timeout, not a stopwatch
    assert not marker.exists(), "the hostile payload ran"
    assert [p for p in OUTSIDE if p.exists()] == []
    assert tree(HOSTILE) == corpus_before, "the corpus was changed"
    assert tree(root) == before, "something was written"
    return result


def assert_refused(result: CliResult) -> str:
    assert result.code == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return lines[0]


def test_the_corpus_is_the_table():
    """A file added without a case, or a case whose file was not made, fails here."""
    on_disk = {p.name for p in HOSTILE.iterdir() if p.is_file() and p.name != "make_hostile.py"}
    assert on_disk == set(CORPUS)


def test_make_hostile_reproduces_the_committed_files(tmp_path):
    """The corpus is what make_hostile.py makes (the files built without a framework are
    byte-identical; the torch and Keras ones carry random ids and dates)."""
    make_hostile.build_pickles(tmp_path)
    for name in make_hostile.REPRODUCIBLE:
        assert (tmp_path / name).read_bytes() == (HOSTILE / name).read_bytes(), name


#: What the one line must say, by file (the reason a user needs, not just "error").
EXPECTED = {
    "pickle_reduce_shell.pt": "posix.system",
    "checkpoint_dict_hidden_exec.pt": "builtins.exec",
    "legacy_hidden_subprocess.pt": "subprocess.call",
    "optimizer_hidden_shell.ckpt": "posix.system",
    "lambda_layer.keras": "Lambda layer 'innocent_scale' holds Python bytecode",
    "lambda_layer.h5": "Lambda layer 'innocent_scale' holds Python bytecode",
    "module_function.keras": "could not locate function 'system'",
    "traversal_members.keras": "points outside the archive",
    "traversal_members.pt": "points outside the archive",
    "zip_bomb.keras": "decompression bomb",
    "safetensors_lying_header.safetensors": "damaged or truncated safetensors",
    "object_array.npz": "pickled object array",
    "deep_nested.jsonl": "deep_nested.jsonl",
    "trainer_state_nested.json": "RecursionError",
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "command"), CASES, ids=[f"{c}-{n}" for n, c in CASES])
def test_hostile_file_is_refused_without_running_or_writing(
    name, command, sandbox, digits, torch_checkpoint
):
    root, marker = sandbox
    if framework_of(name) == "keras":
        pytest.importorskip("keras")
    args = command_line(command, HOSTILE / name, digits, torch_checkpoint, root / "out")
    result = run_contained(args, root, marker)
    line = assert_refused(result)
    assert EXPECTED[name].lower() in line.lower(), line


def test_nested_trainer_state_in_a_run_directory(sandbox):
    root, marker = sandbox
    run = root / "run"
    run.mkdir()
    shutil.copyfile(HOSTILE / "trainer_state_nested.json", run / "trainer_state.json")
    result = run_contained(["diagnose", str(run)], root, marker)
    assert "not valid JSON" in assert_refused(result)


@pytest.fixture(scope="module")
def large_logs(tmp_path_factory) -> dict[str, Path]:
    return make_hostile.build_large(tmp_path_factory.mktemp("large_logs"))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(make_hostile.LARGE))
def test_huge_logs_are_read_in_bounded_time_or_refused(name, large_logs, sandbox):
    """A huge line is either skipped or refused: a verdict or one error line, never a crash."""
    root, marker = sandbox
    result = run_contained(["diagnose", str(large_logs[name]), "--json"], root, marker)
    assert "Traceback" not in result.stderr
    if result.code == 2:
        assert_refused(result)
        return
    assert result.code in (0, 1), result.stderr
    doc = json.loads(result.stdout)
    assert doc["epochs"] >= 2


# -- the payloads are live ------------------------------------------------------------------------


#: The torch files whose pickle carries a payload (the others in the corpus carry none).
PICKLED = [
    "pickle_reduce_shell.pt",
    "checkpoint_dict_hidden_exec.pt",
    "legacy_hidden_subprocess.pt",
    "optimizer_hidden_shell.ckpt",
]


@pytest.mark.torch
@pytest.mark.parametrize("name", PICKLED)
def test_torch_payload_runs_with_trust_pickle(name, sandbox):
    pytest.importorskip("torch")
    _, marker = sandbox
    run_cli(["inspect", str(HOSTILE / name), "--trust-pickle", "--model-factory", MLP_FACTORY])
    assert marker.exists(), "this payload is dead: the refusal test proves nothing for it"


@pytest.mark.keras
@pytest.mark.parametrize("name", ["lambda_layer.keras", "lambda_layer.h5"])
def test_keras_payload_runs_with_trust_pickle(name, sandbox):
    pytest.importorskip("keras")
    _, marker = sandbox
    result = run_cli(["inspect", str(HOSTILE / name), "--trust-pickle"])
    if result.code == 2 and "bad marshal data" in result.stderr.lower():
        pytest.skip("the Lambda's bytecode was written by another Python version")
    assert result.code == 0, result.stderr
    assert marker.exists(), "this payload is dead: the refusal test proves nothing for it"


def test_npz_payload_runs_with_allow_pickle(sandbox):
    _, marker = sandbox
    with np.load(HOSTILE / "object_array.npz", allow_pickle=True) as archive:
        archive["y_train"]
    assert marker.exists()


def test_keras_itself_refuses_the_lambda_in_safe_mode(sandbox):
    """Defence in depth: without plateau-cli's own scan, Keras' safe_mode still refuses."""
    keras = pytest.importorskip("keras")
    _, marker = sandbox
    for name in ("lambda_layer.keras", "lambda_layer.h5"):
        with pytest.raises(ValueError, match="Lambda"):
            keras.models.load_model(HOSTILE / name, safe_mode=True)
    assert not marker.exists()


def test_environment_marker_is_where_the_payload_writes(sandbox):
    """The payloads write where PLATEAU_HOSTILE_MARKER says (the contract the tests rely on)."""
    _, marker = sandbox
    exec(make_hostile.PYTHON_PAYLOAD, {})
    assert marker.read_text() == "hostile payload executed\n"
    os.system(make_hostile.SHELL_PAYLOAD)
    assert marker.read_text().count("executed") == 2
