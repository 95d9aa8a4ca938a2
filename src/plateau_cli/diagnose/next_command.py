"""The `plateau-cli resume ...` line to run next, ready to copy.

`MODEL` and `DATA` stay literal placeholders unless `--model`/`--data` were given; paths are
shell-quoted. `--log PATH` belongs only to `--strategy auto`, which diagnose never suggests
(it has already chosen), so it never appears here. No command when the strategy is `none`:
resuming would not help.
"""

from __future__ import annotations

import shlex

from plateau_cli.diagnose.base import StrategyName

MODEL_PLACEHOLDER = "MODEL"
DATA_PLACEHOLDER = "DATA"


def next_command(
    strategy: StrategyName,
    *,
    model: str | None = None,
    data: str | None = None,
) -> str | None:
    if strategy is StrategyName.NONE:
        return None
    parts = [
        "plateau-cli",
        "resume",
        shlex.quote(model) if model else MODEL_PLACEHOLDER,
        "--strategy",
        strategy.value,
        "--data",
        shlex.quote(data) if data else DATA_PLACEHOLDER,
    ]
    return " ".join(parts)
