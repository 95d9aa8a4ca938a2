"""Regenerate README.md's examples by running the tool (and check they have not drifted).

Every block in README.md of the form

    <!-- example: plateau-cli diagnose sample_models/keras/lr/training.log -->
    ```text
    ...what the command printed...
    ```

is the real output of that command, run from the repository root with NO_COLOR=1 and
COLUMNS=100, stdout and stderr together (what a user sees). `--check` reruns them and exits 1
when any differs; numbers with 4 or more decimals are compared at 2 decimals, so a CPU that
rounds the last digits differently does not fail it, while any change of wording or structure
does (durations and file hashes are ignored). A command writing into runs/NAME starts from an
empty runs/NAME.

    python scripts/readme_examples.py            # rewrite the blocks
    python scripts/readme_examples.py --check    # exit 1 on drift (tests/test_readme.py)
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- example: (?P<cmd>.+?) -->\n```text\n(?P<out>.*?)```", re.DOTALL)
LONG_NUMBER = re.compile(r"-?\d+\.\d{4,}(e[-+]?\d+)?")
DURATION = re.compile(r'("duration_s": )[0-9.]+')
#: A .keras archive records when it was saved, so its hash changes with every run.
SHA256 = re.compile(r"\b[0-9a-f]{64}\b")


def run(command: str) -> str:
    argv = shlex.split(command)
    for i, arg in enumerate(argv):
        if arg == "--out" and argv[i + 1].startswith("runs/"):
            shutil.rmtree(ROOT / argv[i + 1], ignore_errors=True)
    if argv[0] == "plateau-cli":
        argv = [sys.executable, "-m", "plateau_cli", *argv[1:]]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", "TERM": "dumb"}
    env.pop("FORCE_COLOR", None)
    proc = subprocess.run(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        check=False,
    )  # fmt: skip
    text = "\n".join(line.rstrip() for line in proc.stdout.splitlines())
    status = "" if proc.returncode == 0 else f"\n[exit status {proc.returncode}]"
    return text + status + "\n"


def normalise(text: str) -> str:
    text = DURATION.sub(r"\1…", text)  # wall-clock time is not part of the example
    text = SHA256.sub("<sha256>", text)
    return LONG_NUMBER.sub(lambda m: f"{float(m.group(0)):.2f}", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when an example drifted")
    parser.add_argument("--only", help="only the examples whose command contains this")
    args = parser.parse_args(argv)
    text = README.read_text()
    drifted: list[str] = []

    def replace(match: re.Match[str]) -> str:
        command, old = match.group("cmd"), match.group("out")
        if args.only and args.only not in command:
            return match.group(0)
        new = run(command)
        if normalise(new) != normalise(old):
            drifted.append(command)
        return f"<!-- example: {command} -->\n```text\n{new}```"

    updated = BLOCK.sub(replace, text)
    if args.check:
        for command in drifted:
            print(f"drifted: {command}")
        return 1 if drifted else 0
    README.write_text(updated)
    print(f"{len(BLOCK.findall(text))} examples, {len(drifted)} changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
