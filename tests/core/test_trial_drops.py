"""One failing candidate drops out of the race with its reason; the control's failure does
not."""

from __future__ import annotations

from pathlib import Path

import pytest

from plateau_cli.errors import CorruptCheckpointError, StrategyNotApplicableError
from plateau_cli.observer import NullObserver
from plateau_cli.run import trial
from plateau_cli.run.resume import ResumeRequest
from plateau_cli.strategies.control import CONTROL


def _base(tmp_path: Path) -> ResumeRequest:
    return ResumeRequest(model=tmp_path / "m.keras", strategy="continue", data="d.npz")


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (StrategyNotApplicableError("no dead unit"), "does not apply"),
        (CorruptCheckpointError("the factory cannot rebuild the widened module"), "failed"),
    ],
)
def test_a_failing_candidate_is_dropped_with_its_reason(monkeypatch, tmp_path, error, status):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(trial, "run_resume", fail)
    candidate = trial.Candidate("widen", tmp_path / "widen")
    interrupted = trial.advance(candidate, _base(tmp_path), 4, 2, NullObserver())
    assert not interrupted
    assert candidate.report is None
    assert candidate.status == status
    assert candidate.reason == error.message


def test_the_controls_failure_stops_the_race(monkeypatch, tmp_path):
    def fail(*args, **kwargs):
        raise CorruptCheckpointError("unreadable")

    monkeypatch.setattr(trial, "run_resume", fail)
    with pytest.raises(CorruptCheckpointError):
        trial.advance(
            trial.Candidate(CONTROL, tmp_path / "c"), _base(tmp_path), 4, 2, NullObserver()
        )
