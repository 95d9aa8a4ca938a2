"""What a new user meets first, through the real console script's module in a subprocess:
where the output goes, --help at 80 columns, shell completion, 'did you mean'."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.diagnose.diagnose_cases import overfitting
from tests.e2e.runner import run_cli
from tests.e2e.test_diagnose_cli import write_keras_csv

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [[], ["diagnose"], ["inspect"], ["resume"], ["trial"]]


def _cli(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "80", "NO_COLOR": "1"}
    env |= kwargs.pop("env", {})  # type: ignore[arg-type]
    return subprocess.run(
        [sys.executable, "-m", "plateau_cli", *args],
        capture_output=kwargs.pop("capture_output", True),  # type: ignore[arg-type]
        text=True, env=env, timeout=120, check=False, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def test_diagnose_into_a_file_leaves_the_diagnosis_there(tmp_path: Path) -> None:
    log = write_keras_csv(tmp_path / "run.csv", overfitting())
    out = tmp_path / "diag.txt"
    with out.open("w") as f:
        result = _cli(
            ["diagnose", str(log)], stdout=f, capture_output=False, stderr=subprocess.PIPE
        )
    assert result.returncode == 1  # findings
    text = out.read_text()
    assert "overfitting" in text
    assert "Recommendation: augment" in text
    assert "plateau-cli resume MODEL --strategy augment --data DATA" in text
    assert result.stderr == ""  # nothing meant for the file went elsewhere
    assert "\x1b[" not in text  # a file gets no colour codes


def test_json_is_still_exactly_one_document(tmp_path: Path) -> None:
    log = write_keras_csv(tmp_path / "run.csv", overfitting())
    result = _cli(["diagnose", str(log), "--json"])
    assert json.loads(result.stdout)["verdict"] == "overfitting"
    assert result.stderr == ""  # not a terminal: no progress either


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0] if c else "plateau-cli")
def test_help_at_80_columns_keeps_defaults_and_names_whole(command: list[str]) -> None:
    result = _cli([*command, "--help"])
    assert result.returncode == 0, result.stderr
    text = result.stdout
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text  # nothing cut
    for bad in ("<bool>", "<list[", "<str>", "<path>", "{"):
        assert bad not in text, bad
    defaults = [line for line in lines if "[default:" in line]
    assert all(re.search(r"\[default: [^\]]+\]", line) for line in defaults), defaults
    if command:  # the usage names the argument the way the help describes it
        assert re.search(r"Usage: plateau-cli \w+ \[OPTIONS\] (MODEL|\[MODEL\]|PATH)\s*$", lines[1])
    if command == ["trial"]:
        words = " ".join(text.replace("│", " ").split())
        assert "(default: all nine strategies, auto aside)" in words
    if command == ["resume"]:
        # was 153 with four strategies; nine now, each panel of options kept short
        assert len(lines) <= 160


def test_every_shown_default_is_in_the_help_whole() -> None:
    """The defaults the commands really have, each whole on one line of its --help."""
    import typer  # noqa: TID251  (the commands' real parameters)

    from plateau_cli.cli import app

    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        text = _cli([name, "--help"]).stdout
        for param in command.params:
            default = getattr(param, "default", None)
            if param.show_default is False or default in (None, False) or param.is_flag:
                continue
            assert f"[default: {default}]" in text, (name, param.name)


def test_bash_completion_installs_and_completes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # typer finds the shell among the parent processes: run it from bash, as a user would
    # (`; exit $?` keeps bash from replacing itself with the command).
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HOME": str(home), "SHELL": "/bin/bash"}
    command = f"{shlex.quote(sys.executable)} -m plateau_cli --install-completion; exit $?"
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    script = home / ".bash_completions" / "plateau-cli.sh"
    assert "complete -o default -F _plateau_cli_completion plateau-cli" in script.read_text()
    assert f"source '{script}'" in (home / ".bashrc").read_text()

    def complete(words: str) -> list[str]:
        env = {"_PLATEAU_CLI_COMPLETE": "complete_bash", "COMP_WORDS": words}
        env["COMP_CWORD"] = str(len(words.split()) - 1)
        return _cli([], env=env).stdout.split()

    assert complete("plateau-cli res") == ["resume"]
    assert complete("plateau-cli resume --strategy lr") == ["lr-decay", "lr-find"]
    assert complete("plateau-cli resume --strategy re") == ["rebalance", "revive", "regularize"]
    assert "--require-improvement" in complete("plateau-cli resume --req")


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["resume", "m.keras", "--strategy", "lr-dcay", "--data", "d.npz"], "'lr-decay'"),
        (["resume", "m.keras", "--strategy", "unfrezee", "--data", "d.npz"], "'unfreeze'"),
        (["trial", "m.keras", "--strategies", "widen,agment", "--data", "d.npz"], "'augment'"),
    ],
)
def test_a_mistyped_strategy_gets_did_you_mean(argv: list[str], hint: str) -> None:
    result = run_cli(argv)
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"did you mean {hint}?" in lines[0]
    assert result.stdout == ""


def test_a_far_miss_gets_only_the_list() -> None:
    result = run_cli(["resume", "m.keras", "--strategy", "zzz", "--data", "d.npz"])
    assert result.code == 2
    assert "did you mean" not in result.stderr
    assert "choose one of: lr-decay, augment, widen, unfreeze, lr-find," in result.stderr
    assert result.stderr.rstrip().endswith("regularize, auto")
