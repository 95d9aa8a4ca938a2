"""The shape every refusal in these tests must have: exit 2, one line, no traceback."""

from __future__ import annotations

from tests.e2e.runner import CliResult


def assert_refused(result: CliResult, *needles: str) -> str:
    """Exit 2 and exactly one line on stderr, starting "error: " and holding each needle."""
    assert result.code == 2, f"exit {result.code}\n{result.stderr[-3000:]}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), f"{needle!r} not in: {lines[0]}"
    return lines[0]
