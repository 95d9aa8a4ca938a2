"""Block grouping, the default count and the stages: pure Python, no framework."""

from __future__ import annotations

import pytest

from plateau_cli.errors import UsageError
from plateau_cli.strategies import build_strategy
from plateau_cli.strategies.unfreeze import Unfreeze
from plateau_cli.strategies.unfreeze.blocks import (
    Unit,
    default_count,
    group_blocks,
    resolve_count,
    stages,
    top_blocks,
)
from plateau_cli.strategies.unfreeze.options import DEFAULT_BASE_LR_MULT, UnfreezeOptions


def conv(name: str, frozen: bool = True, params: int = 10) -> Unit:
    return Unit(name, "Conv2D", params, frozen)


def bn(name: str, frozen: bool = True) -> Unit:
    return Unit(name, "BatchNormalization", 4, frozen, norm=True, batch_norm=True)


def ln(name: str, frozen: bool = True) -> Unit:
    return Unit(name, "LayerNormalization", 6, frozen, norm=True)


def names(blocks) -> list[list[str]]:
    return [[u.name for u in b.units] for b in blocks]


def test_conv_and_the_batchnorm_after_it_are_one_block():
    units = [conv("c1"), bn("bn1"), conv("c2"), bn("bn2"), conv("c3"), conv("head", False)]
    blocks = group_blocks(units, train_bn=False)
    assert names(blocks) == [["c1", "bn1"], ["c2", "bn2"], ["c3"]]
    assert [b.parameters(False) for b in blocks] == [10, 10, 10]
    assert [b.parameters(True) for b in blocks] == [14, 14, 10]
    assert [u.name for u in blocks[0].kept(False)] == ["bn1"]
    assert blocks[0].kept(True) == ()


def test_layernorm_joins_and_trains_with_its_layer():
    blocks = group_blocks([conv("dense"), ln("norm"), conv("head", False)], train_bn=False)
    assert names(blocks) == [["dense", "norm"]]
    assert blocks[0].parameters(False) == 16


def test_batchnorm_after_a_trainable_layer_is_its_own_block_counted_only_with_train_bn():
    units = [conv("c1"), conv("c2", frozen=False), bn("bn2"), conv("head", False)]
    assert names(group_blocks(units, train_bn=False)) == [["c1"]]
    assert names(group_blocks(units, train_bn=True)) == [["c1"], ["bn2"]]


def test_trainable_and_parameterless_units_are_not_blocks():
    units = [conv("c1", frozen=False), conv("empty", params=0), conv("head", False)]
    assert group_blocks(units, train_bn=False) == []


@pytest.mark.parametrize(
    ("frozen", "expected"), [(0, 0), (1, 1), (2, 1), (3, 1), (4, 2), (6, 2), (7, 3), (12, 4)]
)
def test_default_count_is_the_top_third_rounded_up(frozen, expected):
    assert default_count(frozen, gradual=False) == expected


def test_gradual_defaults_to_every_block_and_layers_is_capped():
    assert default_count(5, gradual=True) == 5
    assert resolve_count(None, 5, gradual=True) == 5
    assert resolve_count("all", 5, gradual=False) == 5
    assert resolve_count(2, 5, gradual=True) == 2
    assert resolve_count(9, 5, gradual=False) == 5


def test_top_blocks_come_topmost_first_and_gradual_takes_one_per_stage():
    blocks = group_blocks([conv("c1"), conv("c2"), conv("c3"), conv("head", False)], False)
    chosen = top_blocks(blocks, 2)
    assert [b.name for b in chosen] == ["c3", "c2"]
    assert [[b.name for b in s] for s in stages(chosen, gradual=True)] == [["c3"], ["c2"]]
    assert [[b.name for b in s] for s in stages(chosen, gradual=False)] == [["c3", "c2"]]
    assert top_blocks(blocks, 0) == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, UnfreezeOptions(None, False, DEFAULT_BASE_LR_MULT, False)),
        ({"layers": "all"}, UnfreezeOptions("all")),
        ({"layers": "ALL"}, UnfreezeOptions("all")),
        ({"layers": "3", "gradual": True}, UnfreezeOptions(3, True)),
        ({"base_lr_mult": 1.0, "train_bn": True}, UnfreezeOptions(None, False, 1.0, True)),
    ],
)
def test_options_parse(given, expected):
    assert UnfreezeOptions.from_given(given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"layers": "0"}, "--layers must be at least 1 (or 'all')"),
        ({"layers": "-2"}, "Received: layers=-2"),
        ({"layers": "top"}, "--layers must be a positive number or 'all'. Received: 'top'"),
        ({"base_lr_mult": 0.0}, "Received: base_lr_mult=0.0"),
        ({"base_lr_mult": 1.5}, "at most 1"),
        ({"base_lr_mult": float("nan")}, "--base-lr-mult must be above 0"),
    ],
)
def test_bad_options_are_refused_before_any_framework(given, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_strategy("unfreeze", given)


def test_option_names_are_the_cli_flags_and_foreign_ones_are_refused():
    assert Unfreeze.option_names == {"layers", "gradual", "base_lr_mult", "train_bn"}
    with pytest.raises(UsageError, match="--units does not apply to --strategy unfreeze"):
        build_strategy("unfreeze", {"units": 8})
    assert build_strategy("unfreeze", {"gradual": True}).needs_epoch_segments
    assert not build_strategy("unfreeze", {}).needs_epoch_segments
