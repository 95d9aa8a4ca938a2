"""widen's options, checked before any framework loads."""

from __future__ import annotations

import pytest

from plateau_cli.errors import UsageError
from plateau_cli.strategies import build_strategy
from plateau_cli.strategies.widen import Widen
from plateau_cli.strategies.widen.arithmetic import Init
from plateau_cli.strategies.widen.options import WidenOptions


def test_defaults():
    strategy = build_strategy("widen", {})
    assert isinstance(strategy, Widen)
    options = strategy.options
    assert options.init is Init.ZERO_OUT
    assert options.new_width(4) == 8
    assert options.effective_noise == 0.0


@pytest.mark.parametrize(
    ("given", "old", "new"),
    [({"factor": 4.0}, 4, 16), ({"factor": 1.5}, 4, 6), ({"units": 10}, 4, 10)],
)
def test_new_width(given, old, new):
    assert WidenOptions.from_given(given).new_width(old) == new


def test_net2net_noise_defaults_to_a_thousandth():
    assert WidenOptions.from_given({"init": "net2net"}).effective_noise == 1e-3
    assert WidenOptions.from_given({"init": "net2net", "noise": 0.0}).effective_noise == 0.0


@pytest.mark.parametrize("spelling", ["zero", "ZERO-OUT", "zero_out"])
def test_zero_is_accepted_for_zero_out(spelling):
    assert WidenOptions.from_given({"init": spelling}).init is Init.ZERO_OUT


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"factor": 2.0, "units": 8}, "give --factor or --units, not both"),
        ({"factor": 1.0}, r"--factor must be a number above 1.*Received: factor=1.0"),
        ({"units": 1}, "--units must be at least 2"),
        ({"init": "copy"}, "unknown --init 'copy'; choose one of: zero-out, net2net, random"),
        ({"noise": 0.01}, "--noise applies to --init net2net only"),
        ({"init": "net2net", "noise": -1.0}, "--noise must be >= 0"),
        ({"layer": " "}, "--layer must name a layer"),
        ({"schedule": "cosine"}, "--schedule does not apply to --strategy widen"),
    ],
)
def test_bad_options(given, message):
    with pytest.raises(UsageError, match=message):
        build_strategy("widen", given)


def test_a_width_that_does_not_grow_is_refused():
    with pytest.raises(UsageError, match="--units 4 does not grow the layer: it already has 4"):
        WidenOptions(units=4).new_width(4)
    with pytest.raises(UsageError, match="adds no unit to a layer of 1"):
        WidenOptions(factor=1.2).new_width(1)


def test_help_says_when_it_helps():
    assert "underfits at a high training loss" in Widen.helps_when
    assert "overfits" in Widen.does_not_help_when
