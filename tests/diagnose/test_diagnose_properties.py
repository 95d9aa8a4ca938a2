"""Any series at all (NaN, inf, negative, constant, one epoch): a diagnosis, valid JSON, output."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console  # noqa: TID251 - rendering is part of what must not crash

from plateau_cli.diagnose import DiagnoseOptions, diagnose, to_json
from plateau_cli.render.diagnose import render_diagnosis
from tests.diagnose.diagnose_cases import history, result

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=-5, max_value=5),
    st.sampled_from([0.0, 0.5, 0.8123, 1.0, 2.302585]),
)
column = st.lists(values, min_size=1, max_size=40)
names = st.sets(
    st.sampled_from(["loss", "val_loss", "accuracy", "val_accuracy", "mae", "val_auc", "lr"]),
    min_size=1,
    max_size=5,
)
options = st.builds(
    DiagnoseOptions,
    patience=st.integers(min_value=1, max_value=12),
    min_delta=st.floats(min_value=0, max_value=1),
    num_classes=st.one_of(st.none(), st.integers(min_value=2, max_value=1000)),
)


@st.composite
def runs(draw: st.DrawFn) -> dict[str, list[float]]:
    chosen = sorted(draw(names))
    if chosen == ["lr"]:
        chosen.append("loss")
    n = draw(st.integers(min_value=1, max_value=40))
    return {name: draw(st.lists(values, min_size=n, max_size=n)) for name in chosen}


@settings(max_examples=300, deadline=None)
@given(run=runs(), opts=options)
def test_any_run_gets_a_diagnosis_and_valid_json(
    run: dict[str, list[float]], opts: DiagnoseOptions
) -> None:
    hist = history(**run)
    diagnosis = diagnose(hist, opts)
    assert diagnosis.findings
    assert diagnosis.verdict is diagnosis.findings[0].kind
    res = result(hist, opts)
    json.dumps(to_json(res), allow_nan=False)
    console = Console(record=True, width=80)
    render_diagnosis(console, res)
    assert diagnosis.verdict.value in console.export_text()
