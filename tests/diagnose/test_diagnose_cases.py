"""Every hand-made curve in diagnose_cases comes out with its verdict, and nothing it must not."""

from __future__ import annotations

import pytest

from plateau_cli.diagnose import FindingKind, Severity, diagnose
from plateau_cli.diagnose.verdict import PRIORITY
from tests.diagnose.diagnose_cases import CASES, Case


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_verdict(case: Case) -> None:
    diagnosis = diagnose(case.build(), case.options)
    kinds = {f.kind for f in diagnosis.findings}
    summaries = [f.summary for f in diagnosis.findings]
    assert diagnosis.verdict is case.verdict, summaries
    assert case.present <= kinds, summaries
    assert not (case.absent & kinds), summaries


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_findings_are_in_priority_order_with_evidence(case: Case) -> None:
    diagnosis = diagnose(case.build(), case.options)
    order = [PRIORITY.index(f.kind) for f in diagnosis.findings]
    assert order == sorted(order)
    assert diagnosis.verdict is diagnosis.findings[0].kind
    for finding in diagnosis.findings:
        assert finding.evidence, finding.kind
        assert finding.summary


def test_exit_relevance_follows_severity() -> None:
    """Only info findings (healthy, converged) leave a run non-actionable."""
    by_name = {c.name: c for c in CASES}
    healthy = diagnose(by_name["healthy"].build())
    converged = diagnose(by_name["converged"].build())
    overfit = diagnose(by_name["overfitting"].build())
    assert not healthy.actionable
    assert not converged.actionable
    assert converged.findings[0].severity is Severity.INFO
    assert overfit.actionable
    assert diagnose(by_name["NaN"].build()).findings[0].severity is Severity.ERROR


def test_every_kind_is_produced_by_some_case() -> None:
    produced = set()
    for case in CASES:
        produced |= {f.kind for f in diagnose(case.build(), case.options).findings}
    # improper-loss and unnormalized-inputs come from real training runs: the corpus test
    # (tests/e2e/test_diagnose_corpus.py) holds them.
    assert produced == set(FindingKind) - {
        FindingKind.IMPROPER_LOSS,
        FindingKind.UNNORMALIZED_INPUTS,
    }
