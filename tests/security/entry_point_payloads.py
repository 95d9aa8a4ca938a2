"""`--data` and `--model-factory` functions that end the process instead of returning."""

from __future__ import annotations

from pathlib import Path

BODIES = {
    "sys.exit(3)": "import sys\n    sys.exit(3)",
    "SystemExit": "raise SystemExit",
    "BaseException": "raise BaseException('boom')",
    "KeyboardInterrupt raised by the code": "raise KeyboardInterrupt",
    "GeneratorExit": "raise GeneratorExit",
}


def write_exiting(directory: Path, kind: str, at_import: bool = False) -> Path:
    """A module whose `build`/`load` (or, `at_import`, whose import) does `BODIES[kind]`."""
    body = BODIES[kind]
    path = directory / f"exits_{len(list(directory.glob('exits_*')))}.py"
    if at_import:
        path.write_text(f"if True:\n    {body}\n\ndef build():\n    pass\n\nload = build\n")
    else:
        path.write_text(f"def build():\n    {body}\n\n\nload = build\n")
    return path
