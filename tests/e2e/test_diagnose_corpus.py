"""The whole labelled corpus through `plateau-cli diagnose --json`: the accuracy README states.

tests/fixtures/diagnose_corpus holds induced logs (tiny Keras and torch models trained into each
finding, in every format; split tune/holdout) and real logs that public projects committed,
each labelled by hand with the rule that decided it. The thresholds are those in corpus.STATED;
benchmarks/diagnose_accuracy.py prints the confusion matrices behind them.
"""

from __future__ import annotations

import pytest

from tests.fixtures.diagnose_corpus.corpus import STATED, load_cases, rates, run_all

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def outcomes():
    return run_all(load_cases())


def test_corpus_is_big_enough(outcomes):
    real = [o for o in outcomes if o.case.group == "real"]
    assert len(outcomes) >= 150
    assert len(real) >= 40
    assert {o.case.group for o in outcomes} == {"tune", "holdout", "real"}


def test_no_log_crashes_the_cli(outcomes):
    crashed = [(o.case.file, o.detail) for o in outcomes if o.crashed]
    assert crashed == []


@pytest.mark.parametrize("group", sorted(STATED))
def test_accuracy_at_least_what_readme_states(outcomes, group):
    chosen = [o for o in outcomes if o.case.group == group]
    verdicts, recommendations, _ = rates(chosen)
    misses = [f"{o.case.file}: {o.case.label} -> {o.verdict}" for o in chosen if not o.verdict_ok]
    assert verdicts >= STATED[group]["verdicts"], misses
    assert recommendations >= STATED[group]["recommendations"]


def test_every_low_confidence_verdict_says_why(outcomes):
    assert all(o.confidence in ("low", "medium", "high") for o in outcomes if o.confidence)
