"""The CSV table parser's paths agree: the packed parse (non-empty cells only) gives what the
row-by-row parse gives, and irregular bodies fall through to it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plateau_cli.logs import _table

CELLS = st.one_of(
    st.just(""),
    st.just("nan"),
    st.just("inf"),
    st.just("-inf"),
    st.floats(-1e9, 1e9, allow_nan=False).map(repr),
    st.integers(-1000, 1000).map(str),
)


def _same(a: _table.Table, b: _table.Table) -> bool:
    return a.names == b.names and all(
        np.array_equal(a.columns[n], b.columns[n], equal_nan=True)
        and np.array_equal(a.present[n], b.present[n])
        for n in a.names
    )


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.integers(1, 5).flatmap(
        # A row of empty cells only: the fast paths keep it (all absent), the row-by-row
        # parse skips it; either way it holds no value.
        lambda w: st.lists(
            st.lists(CELLS, min_size=w, max_size=w).filter(any), min_size=1, max_size=12
        )
    ),
    st.sampled_from([",", ";", "\t"]),
)
def test_packed_parse_matches_the_row_by_row_parse(rows, delimiter):
    names = [f"c{i}" for i in range(len(rows[0]))]
    body = "".join(delimiter.join(row) + "\n" for row in rows)
    packed = _table._packed(names, body, delimiter)
    careful = _table._careful(names, body, delimiter)  # row by row: the reference
    assert packed is not None
    assert _same(packed, careful)


@pytest.mark.parametrize(
    "body",
    ["1,x\n", "1 2,3\n", '"1",2\n', "1,2\n\n3,4\n", "1,2,3\n", "1\n", "\u00e91,2\n"],
)
def test_irregular_bodies_are_left_to_the_careful_path(body):
    assert _table._packed(["a", "b"], body, ",") is None


def test_a_lightning_style_table_keeps_blanks_apart_from_nans():
    text = "epoch,step,loss,val_loss\n0,0,0.5,\n0,1,nan,\n0,1,,0.7\n"
    table = _table.parse_table(text)
    np.testing.assert_array_equal(table.present["loss"], [True, True, False])
    np.testing.assert_array_equal(table.present["val_loss"], [False, False, True])
    assert table.columns["loss"][0] == 0.5
    assert np.isnan(table.columns["loss"][1])
    assert table.columns["val_loss"][2] == 0.7
