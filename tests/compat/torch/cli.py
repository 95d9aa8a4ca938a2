"""Resume through the CLI in-process and read the report, for the compatibility suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.runner import run_cli

SEQ_MODELS = Path(__file__).with_name("seq_models.py")


def resume(model: Path, out: Path, *extra: str, strategy: str = "lr-decay") -> dict[str, Any]:
    argv = [
        "resume",
        str(model),
        "--strategy",
        strategy,
        "--out",
        str(out),
        "--json",
        "--device",
        "cpu",
        *extra,
    ]
    result = run_cli(argv)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)
