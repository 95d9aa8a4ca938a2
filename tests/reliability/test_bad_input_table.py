"""Every command, every kind of bad input: exit 2, one line starting "error: ", no traceback,
and nothing written anywhere (the whole workspace is compared before and after).

Paths with non-ASCII characters and spaces must work when the file is fine (the last tests)
and fail like any other path when it is not (the `unicode ...` rows).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.runner import run_cli
from tests.reliability.conftest import MLP_FACTORY

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
UNICODE_DIR = "dïr with spaces ✓"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, digits, torch_checkpoint) -> Path:
    w = tmp_path_factory.mktemp("bad_input")
    shutil.copyfile(torch_checkpoint, w / "good.pt")
    shutil.copyfile(digits, w / "data.npz")
    arrays = np.load(digits)
    np.savez(w / "whole.npz", x=arrays["x_train"], y=arrays["y_train"])
    shutil.copyfile(LOGS / "keras" / "csvlogger.csv", w / "log.csv")
    for name in ("empty.pt", "empty.npz", "empty.log", "empty.keras"):
        (w / name).write_bytes(b"")
    (w / "emptydir").mkdir()
    (w / "text.pt").write_text("this is not a checkpoint\n")
    (w / "trunc.pt").write_bytes((w / "good.pt").read_bytes()[:3000])
    (w / "trunc.npz").write_bytes((w / "data.npz").read_bytes()[:200_000])
    (w / "zipversion.npz").write_bytes(_zip_version_255((w / "data.npz").read_bytes()))
    (w / "header_only.csv").write_text((w / "log.csv").read_text().splitlines()[0] + "\n")
    events = next((LOGS / "keras" / "tensorboard" / "train").glob("events.out.tfevents.*"))
    (w / "events.out.tfevents.1.cut").write_bytes(events.read_bytes()[:9])
    (w / "blocker").write_text("a file where a directory is expected\n")
    u = w / UNICODE_DIR
    u.mkdir()
    shutil.copyfile(w / "good.pt", u / "模型 ✓.pt")
    shutil.copyfile(w / "data.npz", u / "数据 ✓.npz")
    shutil.copyfile(w / "log.csv", u / "ログ ✓.csv")
    (u / "空 ✓.pt").write_bytes(b"")
    (u / "空 ✓.log").write_bytes(b"")
    (u / "切れた ✓.npz").write_bytes((w / "data.npz").read_bytes()[:200_000])
    _issue_12_payloads(w)
    return w


def _issue_12_payloads(w: Path) -> None:
    """Files that run code, bomb, hang or mislead (issue 12); markers would land in `w`."""
    from tests.security import continue_payloads as cont
    from tests.security.bomb_payloads import keras_bomb, npz_bomb, torch_bomb
    from tests.security.entry_point_payloads import write_exiting
    from tests.security.npz_payloads import huge_claim, uint64_labels
    from tests.security.torchscript_payloads import marker_archive

    marker_archive(w / "scripted.pt", w / "MARKER")
    keras_bomb(w / "bomb.keras")
    torch_bomb(w / "bomb.pt")
    npz_bomb(w / "bomb.npz")
    huge_claim(w / "huge.npz")
    arrays = np.load(w / "data.npz")
    uint64_labels(w / "u64.npz", arrays["x_train"], arrays["y_train"])
    flipped = bytearray((w / "good.pt").read_bytes())
    flipped[flipped.index(b"model_state_dict")] ^= 0x01  # inside data.pkl: its CRC fails
    (w / "flipped.pt").write_bytes(bytes(flipped))
    os.mkfifo(w / "pipe")
    (w / "entry").mkdir()
    write_exiting(w / "entry", "sys.exit(3)")  # entry/exits_0.py
    write_exiting(w / "entry", "BaseException")  # entry/exits_1.py
    run = cont.interrupted_run(w / "run", w / "good.pt", w / "data.npz", MLP_FACTORY)
    cont.edited(run, w / "run_shell", cont.names_shell_factory(w / "MARKER"))
    cont.edited(run, w / "run_factory_inside", cont.factory_file_inside(w / "MARKER"))
    cont.edited(run, w / "run_data_inside", cont.data_function_inside(w / "MARKER"))
    cont.edited(run, w / "run_dotdot", cont.checkpoint_at("../../x.pt"))
    cont.edited(run, w / "run_history", cont.damaged("history", {"epoch": 1}))
    cont.edited(run, w / "run_no_trainer", cont.damaged("continuation.trainer", ...))
    cont.edited(run, w / "run_epochs_text", cont.damaged("continuation.request.epochs", "4"))


def _zip_version_255(data: bytes) -> bytes:
    """Every central-directory entry claims zip version 25.5 (zipfile: NotImplementedError)."""
    out = bytearray(data)
    start = 0
    while (start := out.find(b"PK\x01\x02", start)) != -1:
        out[start + 6 : start + 8] = b"\xff\x00"
        start += 4
    return bytes(out)


def tree(root: Path) -> dict[str, str]:
    """Every path below `root`, with the hash of its content (files) or "dir".

    A FIFO is recorded, not read (reading it would block); Python's own bytecode caches, which
    importing an entry point may write, are not user data.
    """
    out = {}
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        if path.is_dir():
            digest = "dir"
        elif not path.is_file():
            digest = "special"
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        out[str(path.relative_to(root))] = digest
    return out


R = ["resume", "{w}/good.pt", "--model-factory", MLP_FACTORY, "--strategy", "lr-decay"]
D = ["--data", "{w}/data.npz"]
OUT = ["--out", "{w}/out"]

#: id -> (argv with {w} for the workspace, a piece of the expected line, case-insensitive)
CASES: dict[str, tuple[list[str], str]] = {
    # diagnose
    "diagnose missing path": (["diagnose", "{w}/nope.log"], "no such file"),
    "diagnose empty file": (["diagnose", "{w}/empty.log"], "the file is empty"),
    "diagnose directory without a log": (["diagnose", "{w}/emptydir"], "no training log found"),
    "diagnose wrong format": (["diagnose", "{w}/good.pt"], "not a training log"),
    "diagnose header only": (["diagnose", "{w}/header_only.csv"], "no usable per-epoch"),
    "diagnose truncated events": (["diagnose", "{w}/events.out.tfevents.1.cut"], "events"),
    "diagnose unicode empty": (["diagnose", "{w}/" + UNICODE_DIR + "/空 ✓.log"], "空 ✓.log"),
    "diagnose --patience 0": (["diagnose", "{w}/log.csv", "--patience", "0"], "--patience"),
    "diagnose --min-delta -1": (["diagnose", "{w}/log.csv", "--min-delta", "-1"], "--min-delta"),
    "diagnose --num-classes 1": (["diagnose", "{w}/log.csv", "--num-classes", "1"], "--num-"),
    "diagnose unknown metric": (["diagnose", "{w}/log.csv", "--monitor", "val_f1"], "val_f1"),
    "diagnose --plot not png": (["diagnose", "{w}/log.csv", "--plot", "{w}/p.txt"], ".png"),
    "diagnose --plot below a file": (
        ["diagnose", "{w}/log.csv", "--plot", "{w}/blocker/p.png"],
        "not a directory",
    ),
    "diagnose no path": (["diagnose"], "missing argument"),
    # inspect
    "inspect missing path": (["inspect", "{w}/nope.pt"], "no such file"),
    "inspect empty file": (["inspect", "{w}/empty.pt"], "the file is empty"),
    "inspect empty .keras": (["inspect", "{w}/empty.keras"], "the file is empty"),
    "inspect directory": (["inspect", "{w}/emptydir"], "is a directory"),
    "inspect wrong format text": (["inspect", "{w}/text.pt"], "not a checkpoint"),
    "inspect wrong format npz": (["inspect", "{w}/data.npz"], "neither a keras"),
    "inspect truncated": (["inspect", "{w}/trunc.pt"], "truncated"),
    "inspect unicode empty": (["inspect", "{w}/" + UNICODE_DIR + "/空 ✓.pt"], "空 ✓.pt"),
    # Without --data, inspect shows what the file says by itself (exit 0); with it, the module
    # must be built.
    "inspect no factory": (["inspect", "{w}/good.pt", *D], "--model-factory"),
    "inspect bad factory": (["inspect", "{w}/good.pt", "--model-factory", "nope"], "module:"),
    "inspect factory missing attr": (
        ["inspect", "{w}/good.pt", "--model-factory", MLP_FACTORY + "x"],
        "no attribute",
    ),
    "inspect bad factory arg": (
        ["inspect", "{w}/good.pt", "--model-factory", MLP_FACTORY, "--factory-arg", "x"],
        "key=value",
    ),
    "inspect bad device": (
        ["inspect", "{w}/good.pt", "--model-factory", MLP_FACTORY, "--device", "tpu"],
        "--device",
    ),
    # resume: the model
    "resume missing model": (
        ["resume", "{w}/nope.pt", "--strategy", "lr-decay", *D, *OUT],
        "no such file",
    ),
    "resume empty model": (
        ["resume", "{w}/empty.pt", "--strategy", "lr-decay", *D, *OUT],
        "the file is empty",
    ),
    "resume directory as model": (
        ["resume", "{w}/emptydir", "--strategy", "lr-decay", *D, *OUT],
        "is a directory",
    ),
    "resume wrong format model": (
        ["resume", "{w}/text.pt", "--strategy", "lr-decay", *D, *OUT],
        "not a checkpoint",
    ),
    "resume truncated model": (
        [
            "resume",
            "{w}/trunc.pt",
            "--model-factory",
            MLP_FACTORY,
            "--strategy",
            "lr-decay",
            *D,
            *OUT,
        ],
        "truncated",
    ),
    "resume unicode empty model": (
        ["resume", "{w}/" + UNICODE_DIR + "/空 ✓.pt", "--strategy", "lr-decay", *D, *OUT],
        "空 ✓.pt",
    ),
    # resume: the data
    "resume missing data": ([*R, "--data", "{w}/nope.npz", *OUT], "no such file"),
    "resume empty data": ([*R, "--data", "{w}/empty.npz", *OUT], "empty.npz"),
    "resume directory as data": ([*R, "--data", "{w}/emptydir", *OUT], "no class folders"),
    "resume wrong format data": ([*R, "--data", "{w}/empty.log", *OUT], "not a format"),
    "resume csv without target": ([*R, "--data", "{w}/log.csv", *OUT], "--target"),
    "resume truncated data": ([*R, "--data", "{w}/trunc.npz", *OUT], "not a readable .npz"),
    "resume npz of an unknown zip version": (
        [*R, "--data", "{w}/zipversion.npz", *OUT],
        "zipversion.npz",
    ),
    "resume unicode truncated data": (
        [*R, "--data", "{w}/" + UNICODE_DIR + "/切れた ✓.npz", *OUT],
        "切れた ✓.npz",
    ),
    "resume whole npz without --val-split": ([*R, "--data", "{w}/whole.npz", *OUT], "--val-split"),
    # resume: conflicting options
    "resume --factor with --lr": ([*R, *D, *OUT, "--factor", "0.5", "--lr", "0.1"], "not both"),
    "resume --units with lr-decay": ([*R, *D, *OUT, "--units", "8"], "widen"),
    "resume --layers with widen": (
        [
            "resume",
            "{w}/good.pt",
            "--model-factory",
            MLP_FACTORY,
            "--strategy",
            "widen",
            *D,
            *OUT,
            "--layers",
            "2",
        ],
        "unfreeze",
    ),
    "resume --val-split with a split": ([*R, *D, *OUT, "--val-split", "0.2"], "--val-split"),
    "resume --target with npz": ([*R, *D, *OUT, "--target", "y"], "--target"),
    "resume unknown strategy": (
        ["resume", "{w}/good.pt", "--strategy", "sharpen", *D, *OUT],
        "sharpen",
    ),
    "resume no strategy": (["resume", "{w}/good.pt", *D, *OUT], "--strategy"),
    "resume unknown option": ([*R, *D, *OUT, "--sharpen"], "--sharpen"),
    # resume: bad numbers
    "resume --epochs 0": ([*R, *D, *OUT, "--epochs", "0"], "--epochs"),
    "resume --epochs abc": ([*R, *D, *OUT, "--epochs", "abc"], "--epochs"),
    "resume --batch-size -1": ([*R, *D, *OUT, "--batch-size", "-1"], "--batch-size"),
    "resume --val-split 2": ([*R, "--data", "{w}/whole.npz", *OUT, "--val-split", "2"], "2"),
    "resume --patience 0": ([*R, *D, *OUT, "--patience", "0"], "--patience"),
    "resume --min-delta -1": ([*R, *D, *OUT, "--min-delta", "-1"], "--min-delta"),
    "resume --factor 2": ([*R, *D, *OUT, "--factor", "2"], "factor=2"),
    "resume --lr 0": ([*R, *D, *OUT, "--lr", "0"], "--lr"),
    "resume --seed -5": ([*R, *D, *OUT, "--seed", "-5"], "--seed"),
    "resume --image-size 3": ([*R, *D, *OUT, "--image-size", "3"], "--image-size"),
    "resume unknown monitor": ([*R, *D, *OUT, "--monitor", "val_f1"], "val_f1"),
    # resume: the output
    "resume --out is a file": ([*R, *D, "--out", "{w}/blocker"], "not a directory"),
    "resume --out below a file": ([*R, *D, "--out", "{w}/blocker/run"], "is a file"),
    "resume --out is the model": ([*R, *D, "--out", "{w}/good.pt"], "not a directory"),
    # issue 12: code in TorchScript
    "inspect torchscript": (["inspect", "{w}/scripted.pt"], "TorchScript archive carries code"),
    "resume torchscript": (
        ["resume", "{w}/scripted.pt", "--strategy", "lr-decay", *D, *OUT],
        "--trust-pickle",
    ),
    "trial torchscript": (["trial", "{w}/scripted.pt", *D, *OUT], "TorchScript"),
    # issue 12: code and paths in --continue
    "continue without the factory named again": (
        ["resume", "--continue", "{w}/run"],
        "pass it again",
    ),
    "continue naming subprocess:getoutput": (
        ["resume", "--continue", "{w}/run_shell"],
        "subprocess:getoutput",
    ),
    "continue with a factory file inside DIR": (
        ["resume", "--continue", "{w}/run_factory_inside"],
        "nets.py:build",
    ),
    "continue with a data function inside DIR": (
        ["resume", "--continue", "{w}/run_data_inside", "--model-factory", MLP_FACTORY],
        "data.py:load",
    ),
    "continue to ../../x.pt": (
        ["resume", "--continue", "{w}/run_dotdot", "--model-factory", MLP_FACTORY],
        "outside the directory",
    ),
    "continue with history not a list": (
        ["resume", "--continue", "{w}/run_history", "--model-factory", MLP_FACTORY],
        "'history' is a JSON object",
    ),
    "continue without a trainer block": (
        ["resume", "--continue", "{w}/run_no_trainer", "--model-factory", MLP_FACTORY],
        "'continuation.trainer' is missing",
    ),
    "continue with epochs as text": (
        ["resume", "--continue", "{w}/run_epochs_text", "--model-factory", MLP_FACTORY],
        "continuation.request.epochs",
    ),
    # issue 12: bombs, lying headers, hanging files, exiting code, misleading messages
    "inspect .keras bomb": (["inspect", "{w}/bomb.keras"], "decompression bomb"),
    "inspect .pt bomb": (["inspect", "{w}/bomb.pt"], "decompression bomb"),
    "resume .npz bomb": ([*R, "--data", "{w}/bomb.npz", *OUT], "decompression bomb"),
    "resume npz header claiming 512 TB": ([*R, "--data", "{w}/huge.npz", *OUT], "allocate"),
    "resume uint64 labels past int64": ([*R, "--data", "{w}/u64.npz", *OUT], "uint64"),
    "inspect bit-flipped .pt": (
        ["inspect", "{w}/flipped.pt", "--model-factory", MLP_FACTORY],
        "damaged",
    ),
    "diagnose a FIFO": (["diagnose", "{w}/pipe"], "FIFO"),
    "inspect a FIFO": (["inspect", "{w}/pipe"], "FIFO"),
    "diagnose /dev/zero": (["diagnose", "/dev/zero"], "character device"),
    "resume --data calling sys.exit(3)": (
        [*R, "--data", "{w}/entry/exits_0.py:load", *OUT],
        "sys.exit(3)",
    ),
    "resume --model-factory raising BaseException": (
        [
            "resume",
            "{w}/good.pt",
            "--model-factory",
            "{w}/entry/exits_1.py:build",
            "--strategy",
            "lr-decay",
            *D,
            *OUT,
        ],
        "BaseException",
    ),
}
#: Known failures, reported to the lead: the fix is outside this helper's files.
KNOWN: dict = {}


@pytest.mark.torch
@pytest.mark.parametrize("case", [pytest.param(c, marks=KNOWN.get(c, ())) for c in CASES])
def test_bad_input_exit_2_one_line_nothing_written(case, workspace):
    pytest.importorskip("torch")
    template, needle = CASES[case]
    argv = [a.replace("{w}", str(workspace)) for a in template]
    before = tree(workspace)
    result = run_cli(argv)
    assert result.code == 2, f"{case}: exit {result.code}\n{result.stderr[-3000:]}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"{case}:\n{result.stderr}"
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr
    assert needle.lower() in lines[0].lower(), f"{case}: {lines[0]}"
    assert result.stdout == ""
    assert tree(workspace) == before, f"{case}: something was written"


# -- the same unusual paths work when the files are fine ---------------------------------------


def test_diagnose_reads_a_log_under_a_unicode_path(workspace):
    path = workspace / UNICODE_DIR / "ログ ✓.csv"
    result = run_cli(["diagnose", str(path), "--json", "--exit-zero"])
    assert result.code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["source"]["path"] == str(path)
    assert doc["epochs"] == 12


@pytest.mark.torch
def test_inspect_and_resume_work_under_unicode_paths(workspace, tmp_path):
    pytest.importorskip("torch")
    model = workspace / UNICODE_DIR / "模型 ✓.pt"
    data = workspace / UNICODE_DIR / "数据 ✓.npz"
    result = run_cli(["inspect", str(model), "--model-factory", MLP_FACTORY, "--json"])
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["path"] == str(model)
    out = tmp_path / "résultats ✓ run"
    result = run_cli(
        ["resume", str(model), "--model-factory", MLP_FACTORY, "--strategy", "lr-decay",
         "--data", str(data), "--epochs", "1", "--out", str(out), "--json"]
    )  # fmt: skip
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["input"]["path"] == str(model)
    assert report["output"]["path"] == str(out / "checkpoint.pt")
    assert (out / "report.json").exists()
    assert json.loads((out / "report.json").read_text())["data"]["source"] == str(data)


@pytest.mark.keras
def test_keras_model_under_a_unicode_path(workspace, digits, tmp_path):
    pytest.importorskip("keras")
    from tests.e2e.keras_plateau import stalled_keras_model

    directory = tmp_path / UNICODE_DIR
    directory.mkdir()
    model = stalled_keras_model(directory / "模型 ✓.keras", digits, epochs=1)
    result = run_cli(["inspect", str(model), "--json"])
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["format"] == "keras-v3"


# -- issue 12: Keras files that ask for more than a model ---------------------------------------

KERAS_CASES: dict[str, tuple[str, str]] = {
    "keras.utils.get_file (CVE-2025-8747)": ("get_file", "keras.utils.get_file"),
    "enable_unsafe_deserialization": (
        "enable_unsafe_deserialization",
        "keras.config.enable_unsafe_deserialization",
    ),
    "Lambda calling plot_image_gallery": (
        "plot_image_gallery",
        "keras.visualization.plot_image_gallery",
    ),
    "StringLookup vocabulary path": ("string_lookup_path", "vocabulary from a file outside"),
    "TFSMLayer": ("tfsm_layer", "TFSMLayer"),
}


@pytest.fixture(scope="module")
def keras_workspace(tmp_path_factory) -> Path:
    pytest.importorskip("keras")
    from tests.security.keras_payloads import clean_archive, write_payload

    w = tmp_path_factory.mktemp("bad_keras")
    clean = clean_archive()
    for kind, _ in KERAS_CASES.values():
        write_payload(clean, kind, w / f"MARKER_{kind}", w / f"{kind}.keras")
    return w


@pytest.mark.keras
@pytest.mark.parametrize("case", list(KERAS_CASES))
def test_keras_payloads_exit_2_one_line_nothing_written(case, keras_workspace):
    kind, needle = KERAS_CASES[case]
    before = tree(keras_workspace)
    result = run_cli(["inspect", str(keras_workspace / f"{kind}.keras")])
    assert result.code == 2, f"{case}: exit {result.code}\n{result.stderr[-3000:]}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"{case}:\n{result.stderr}"
    assert lines[0].startswith("error: ")
    assert needle.lower() in lines[0].lower(), lines[0]
    assert "bytecode" not in lines[0]
    assert tree(keras_workspace) == before
