"""augment's spec parsing and option checks: no framework is imported for any of them."""

import re

import pytest

from plateau_cli.errors import UsageError
from plateau_cli.strategies import build_strategy, strategy_class
from plateau_cli.strategies.augment.options import (
    DEFAULT_COPIES,
    DEFAULT_LR_MULT,
    AugmentOptions,
    TransformSpec,
    parse_spec,
)


def test_option_names_are_exactly_the_cli_flags_of_augment():
    assert strategy_class("augment").option_names == {
        "augment",
        "noise",
        "mixup",
        "copies",
        "bake",
        "lr_mult",
    }


def test_spec_names_alone_take_their_defaults_and_values_are_parsed():
    specs = parse_spec("zoom, flip,rotate=15,shift=0.05,contrast,brightness=0.3")
    assert specs == (
        TransformSpec("flip", "horizontal"),
        TransformSpec("rotate", 15.0),
        TransformSpec("shift", 0.05),
        TransformSpec("zoom", 0.1),
        TransformSpec("contrast", 0.2),
        TransformSpec("brightness", 0.3),
    )


def test_spec_order_is_fixed_whatever_the_user_wrote():
    assert [s.name for s in parse_spec("mixup=0.4,noise,rotate,flip=vertical")] == [
        "flip",
        "rotate",
        "noise",
        "mixup",
    ]
    assert parse_spec("flip=BOTH")[0].value == "both"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("blur", "unknown transform 'blur'"),
        ("rotate=abc", "rotate=abc: expected a number"),
        ("rotate=0", "degrees must be > 0 and <= 180"),
        ("rotate=200", "Received: 200"),
        ("shift=1", "fraction must be > 0 and < 1"),
        ("zoom=-0.1", "Received: -0.1"),
        ("contrast=1.5", "factor must be > 0 and <= 1"),
        ("noise=nan", "std_rel must be > 0"),
        ("mixup=0", "alpha must be > 0"),
        ("flip=diagonal", "choose one of horizontal, vertical, both (default horizontal)"),
        ("rotate,rotate=5", "names 'rotate' twice"),
        ("rotate,,shift", "empty entry"),
        ("rotate=", "give a value after '='"),
        (" , ", "--augment is empty"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, expected):
    with pytest.raises(UsageError, match=re.escape(expected)):
        parse_spec(spec)


def test_unknown_names_list_every_valid_transform_with_its_default():
    with pytest.raises(UsageError) as caught:
        parse_spec("flip,cutout=0.5")
    message = caught.value.message
    for entry in (
        "flip=horizontal",
        "rotate=10",
        "shift=0.1",
        "zoom=0.1",
        "contrast=0.2",
        "brightness=0.2",
        "noise=1",
        "mixup=0.2",
    ):
        assert entry in message


def test_flags_and_spec_combine_and_defaults_fill_in():
    options = AugmentOptions.from_given({"augment": "rotate", "noise": 0.5, "mixup": 0.4})
    assert options.transforms == (
        TransformSpec("rotate", 10.0),
        TransformSpec("noise", 0.5),
        TransformSpec("mixup", 0.4),
    )
    assert options.copies == DEFAULT_COPIES
    assert options.bake is False
    assert options.effective_lr_mult == DEFAULT_LR_MULT
    assert AugmentOptions.from_given({"lr_mult": 1.0}).effective_lr_mult == 1.0
    assert AugmentOptions.from_given({}).transforms == ()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"noise": 0.5, "augment": "noise=1"}, "noise is given twice"),
        ({"mixup": 0.2, "augment": "mixup"}, "mixup is given twice"),
        ({"noise": 0.0}, "--noise: std_rel must be > 0"),
        ({"noise": -1.0}, "Received: -1"),
        ({"mixup": -0.2}, "--mixup: alpha must be > 0"),
        ({"copies": 0}, "--copies must be between 1 and 64"),
        ({"copies": 65}, "Received: 65"),
        ({"lr_mult": 0.0}, "--lr-mult must be > 0 and <= 1"),
        ({"lr_mult": 2.0}, "Received: 2"),
    ],
)
def test_bad_flags_fail_before_any_framework_loads(given, expected):
    with pytest.raises(UsageError, match=expected):
        build_strategy("augment", given)


def test_options_of_other_strategies_are_refused():
    with pytest.raises(UsageError, match="--units does not apply to --strategy augment"):
        build_strategy("augment", {"units": 8})
