"""Successive halving's bookkeeping, without a framework."""

from __future__ import annotations

from pathlib import Path

import pytest

from plateau_cli.errors import UsageError
from plateau_cli.run.trial import Candidate, _halve, check_strategies, rung_epochs


@pytest.mark.parametrize(
    ("others", "budget", "expected"),
    [(4, 8, [2, 4, 8]), (3, 8, [2, 4, 8]), (2, 8, [4, 8]), (1, 8, [8]), (4, 2, [1, 2])],
)
def test_rungs_double_up_to_the_budget(others, budget, expected):
    assert rung_epochs(others, budget) == expected


def _candidate(name, best):
    class Report:
        monitored_best = best

        class monitor:
            class mode:
                value = "min"

    return Candidate(name, Path(name), report=Report())  # type: ignore[arg-type]


def test_halving_keeps_the_better_half_and_always_the_control():
    alive = [_candidate("continue", 0.9), *(_candidate(n, v) for n, v in
             [("a", 0.5), ("b", 0.4), ("c", 0.95), ("d", 0.7)])]  # fmt: skip
    assert [c.name for c in _halve(alive)] == ["continue", "b", "a"]
    assert [c.name for c in _halve(alive[:2])] == ["continue", "a"]


@pytest.mark.parametrize(
    ("names", "message"),
    [([], "at least one"), (["auto"], "trial runs the control itself"),
     (["continue"], "trial runs the control itself"), (["sharpen"], "unknown strategy")],
)  # fmt: skip
def test_bad_candidate_lists(names, message):
    with pytest.raises(UsageError, match=message):
        check_strategies(names)
