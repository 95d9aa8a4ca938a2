"""augment's plan: which transforms run, the statistics they scale by, what the report says."""

import numpy as np
import pytest

from plateau_cli.errors import UsageError
from plateau_cli.strategies.augment.options import AugmentOptions
from plateau_cli.strategies.augment.plan import (
    TOO_WEAK_RATIO,
    FeatureStats,
    InputKind,
    LossWatch,
    make_plan,
)


def test_feature_std_matches_numpy_and_constant_features_get_exactly_zero():
    rng = np.random.default_rng(0)
    x = rng.normal(5.0, [0.1, 1.0, 3.0, 0.0], size=(10_000, 4)).astype(np.float32)
    x[:, 3] = 0.1  # constant, a value float rounding would turn into a tiny spread
    stats = FeatureStats.of(x)
    assert stats.std[:3] == pytest.approx(x[:, :3].astype(np.float64).std(axis=0), rel=1e-6)
    assert stats.std[3] == 0.0
    assert (stats.low, stats.high) == (float(x.min()), float(x.max()))
    assert stats.samples == 10_000
    assert stats.std.shape == (4,)


def test_feature_std_keeps_the_sample_shape_for_images():
    x = np.random.default_rng(1).random((50, 4, 4, 3)).astype(np.float32)
    assert FeatureStats.of(x).std.shape == (4, 4, 3)


def test_feature_std_has_no_cancellation_for_large_offsets():
    x = (1e4 + np.random.default_rng(2).normal(0, 1e-2, size=(9000, 2))).astype(np.float64)
    assert FeatureStats.of(x).std == pytest.approx(x.std(axis=0), rel=1e-6)


def test_vectors_default_to_noise_at_full_spread_and_images_to_geometry_without_flip():
    vector = make_plan(AugmentOptions(), (64,), True, "keras")
    assert vector.kind is InputKind.VECTOR
    assert vector.defaulted
    assert [(s.name, s.value) for s in vector.transforms] == [("noise", 1.0)]
    image = make_plan(AugmentOptions(), (3, 32, 32), False, "torch")
    assert image.kind is InputKind.IMAGE
    assert [s.name for s in image.transforms] == ["rotate", "shift", "zoom"]
    assert not image.has("flip")


def test_named_transforms_replace_the_default_set():
    options = AugmentOptions.from_given({"mixup": 0.3})
    plan = make_plan(options, (64,), True, "torch")
    assert not plan.defaulted
    assert [s.name for s in plan.transforms] == ["mixup"]


def test_image_transforms_on_vectors_are_refused_with_the_shape_and_what_fits():
    options = AugmentOptions.from_given({"augment": "rotate,noise"})
    with pytest.raises(UsageError) as caught:
        make_plan(options, (64,), True, "keras")
    message = caught.value.message
    assert "--augment rotate" in message
    assert "samples of shape (64,)" in message
    assert "HWC" in message
    assert "--noise" in message


@pytest.mark.parametrize(
    ("given", "framework", "expected"),
    [
        ({"augment": "rotate", "bake": True}, "torch", "--bake is for Keras models"),
        ({"noise": 1.0, "bake": True}, "keras", "noise and mixup act on the input pipeline"),
    ],
)
def test_bake_is_refused_where_it_cannot_apply(given, framework, expected):
    shape = (8, 8, 1) if "augment" in given else (64,)
    with pytest.raises(UsageError, match=expected):
        make_plan(AugmentOptions.from_given(given), shape, True, framework)


def test_details_and_changes_list_every_transform_with_its_parameters():
    options = AugmentOptions.from_given(
        {"augment": "flip,rotate=15,contrast", "noise": 0.5, "copies": 2}
    )
    x = np.random.default_rng(3).random((20, 8, 8, 1)).astype(np.float32)
    x[:, 0, 0, 0] = 0.0
    plan = make_plan(options, x.shape[1:], True, "keras").with_stats(FeatureStats.of(x))
    details = plan.details()
    assert [d["name"] for d in details] == ["flip", "rotate", "contrast", "noise"]
    assert details[0] == {"name": "flip", "mode": "horizontal", "where": "input pipeline"}
    assert details[1]["degrees"] == 15.0
    assert details[2]["value_range"] == [float(x.min()), float(x.max())]
    assert details[3]["std_rel"] == 0.5
    assert details[3]["features"] == 64
    assert details[3]["features_without_noise"] == 1
    changes = plan.changes()
    assert "validation data is never augmented" in changes[0]
    assert any("rotate=15: max rotation in degrees" in line for line in changes)
    assert any("noise=0.5: Gaussian noise" in line for line in changes)
    assert any("1 of 64 features are constant and get none" in line for line in changes)
    assert not any("features_without_noise" in line for line in changes)
    assert changes[-1].startswith("2 augmented passes")


def test_loss_watch_warns_when_the_augmented_training_loss_stays_near_zero():
    watch = LossWatch(clean_train_loss=0.004, clean_val_loss=0.3)
    assert dict(watch)["augmented_epoch_1"] is None
    warning = watch.observe(0.3 * TOO_WEAK_RATIO * 0.5)
    assert warning is not None
    assert "too weak to change the model" in warning
    assert "clean 0.004" in warning
    assert dict(watch) == {
        "clean": 0.004,
        "augmented_epoch_1": pytest.approx(0.015),
        "clean_val_loss": 0.3,
        "too_weak": True,
    }


def test_loss_watch_is_quiet_when_augmentation_lifts_the_training_loss():
    watch = LossWatch(clean_train_loss=0.004, clean_val_loss=0.3)
    assert watch.observe(0.35) is None
    assert watch["too_weak"] is False
    assert LossWatch(0.004, None).observe(0.0) is None  # no validation loss: nothing to judge
