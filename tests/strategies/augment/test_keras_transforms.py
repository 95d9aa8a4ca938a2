"""augment's Keras transforms, one at a time: their statistics, shapes, ranges and seeds."""

from types import SimpleNamespace

import numpy as np
import pytest

from plateau_cli.data.base import ArraySplit, DataBundle
from plateau_cli.errors import UsageError
from plateau_cli.strategies.augment.options import AugmentOptions
from plateau_cli.strategies.augment.plan import make_plan

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
augment_keras = pytest.importorskip("plateau_cli.strategies.augment.keras")
pytestmark = pytest.mark.keras


def _bundle(x, y):
    return DataBundle(ArraySplit(x, y), ArraySplit(x[:2], y[:2]), "npz", "test.npz")


def _model(inputs, units, loss):
    model = keras.Sequential(
        [keras.Input(inputs), keras.layers.Flatten(), keras.layers.Dense(units)]
    )
    model.compile(optimizer="adam", loss=loss)
    return model


def _transform(given, x, y, loss="sparse_categorical_crossentropy", seed=0):
    handle = SimpleNamespace(model=_model(x.shape[1:], 3, loss), train_transform=None)
    plan = make_plan(AugmentOptions.from_given(given), x.shape[1:], True, "keras")
    applied = augment_keras.apply(handle, _bundle(x, y), plan, seed)
    assert handle.train_copies == plan.copies
    return handle.train_transform, applied


def _call(transform, x, y):
    return [t.numpy() for t in transform(tf.constant(x), tf.constant(y))]


def test_noise_std_per_feature_is_the_requested_share_of_each_features_spread():
    rng = np.random.default_rng(0)
    spread = np.array([0.0, 0.1, 1.0, 3.0], dtype=np.float32)
    x = (rng.normal(size=(8000, 4)) * spread + 2.0).astype(np.float32)
    transform, applied = _transform({"noise": 0.5}, x, np.zeros(8000, np.int64))
    out, y = _call(transform, x, np.zeros(8000, np.int64))
    added = (out - x).astype(np.float64)
    expected = 0.5 * applied.plan.stats.std
    assert added[:, 0].tolist() == [0.0] * 8000  # zero spread: no noise at all
    assert added[:, 1:].std(axis=0) == pytest.approx(expected[1:], rel=0.05)
    assert (np.abs(added[:, 1:].mean(axis=0)) < 4 * expected[1:] / np.sqrt(8000)).all()
    assert y.tolist() == [0] * 8000  # labels untouched


def test_draws_differ_per_epoch_and_repeat_with_the_seed():
    x = np.ones((64, 3), np.float32) + np.arange(3, dtype=np.float32)
    x[::2] *= 2.0

    def two_epochs(seed):
        transform, _ = _transform({"noise": 1.0}, x, np.zeros(64, np.int64), seed=seed)
        data = tf.data.Dataset.from_tensor_slices((x, np.zeros(64, np.int64))).batch(16)
        data = data.map(transform)
        return [np.concatenate([b[0].numpy() for b in data]) for _ in range(2)]

    first, second = two_epochs(3)
    again = two_epochs(3)
    assert not np.array_equal(first, second)
    assert np.array_equal(first, again[0])
    assert np.array_equal(second, again[1])
    assert not np.array_equal(first, two_epochs(4)[0])


def test_mixup_with_integer_labels_is_a_weighted_pair_equal_to_soft_target_cross_entropy():
    n, alpha = 4000, 0.4
    x = np.stack([np.arange(n), np.ones(n)], axis=1).astype(np.float32)  # row i holds i
    y = np.random.default_rng(1).integers(0, 3, n)
    transform, applied = _transform({"mixup": alpha, "copies": 1}, x, y)
    assert applied.details["mixup_labels"] == "sparse_categorical_crossentropy"
    x2, y2, w = _call(transform, x, y)
    assert x2.shape == (2 * n, 2)
    assert np.array_equal(x2[:n], x2[n:])
    assert np.array_equal(y2[:n], y)
    lam = w[:n] / 2
    assert w[:n] + w[n:] == pytest.approx(np.full(n, 2.0), abs=1e-6)
    assert lam.min() >= 0
    assert lam.max() <= 1
    assert lam.mean() == pytest.approx(0.5, abs=0.02)
    assert lam.var() == pytest.approx(1 / (4 * (2 * alpha + 1)), rel=0.08)  # Beta(a, a)
    partner = np.rint((x2[:n, 0] - lam * x[:, 0]) / np.maximum(1 - lam, 1e-6)).astype(int)
    confident = (1 - lam) > 0.05
    assert np.array_equal(y2[n:][confident], y[partner[confident]])
    # The weighted pair is categorical cross-entropy on the mixed one-hot target, exactly.
    probs = keras.ops.softmax(np.random.default_rng(2).normal(size=(n, 3))).numpy()
    one_hot = np.eye(3, dtype=np.float32)
    soft = lam[:, None] * one_hot[y] + (1 - lam[:, None]) * one_hot[y2[n:]]
    assert soft.sum(axis=1) == pytest.approx(np.ones(n), abs=1e-6)
    pair = keras.losses.SparseCategoricalCrossentropy()(
        y2, np.concatenate([probs, probs]), sample_weight=w
    )
    assert float(pair) == pytest.approx(
        float(keras.losses.CategoricalCrossentropy()(soft, probs)), rel=1e-5
    )


def test_mixup_with_one_hot_labels_mixes_them_into_rows_that_sum_to_one():
    n = 500
    x = np.random.default_rng(3).random((n, 4)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[np.arange(n) % 3]
    transform, applied = _transform({"mixup": 0.2}, x, y, loss="categorical_crossentropy")
    assert applied.details["mixup_labels"] == "mixed"
    x2, y2 = _call(transform, x, y)
    assert x2.shape == x.shape
    assert y2.sum(axis=1) == pytest.approx(np.ones(n), abs=1e-6)
    assert y2.min() >= 0
    assert not np.array_equal(y2, y)


def test_mixup_refuses_a_loss_it_cannot_give_soft_targets():
    x = np.zeros((4, 2), np.float32)
    with pytest.raises(UsageError, match="--mixup: the model's loss"):
        _transform({"mixup": 0.2}, x, np.zeros(4), loss=lambda t, p: keras.ops.mean(p))


def test_image_transforms_keep_the_shape_and_the_value_range():
    rng = np.random.default_rng(4)
    x = rng.random((16, 12, 12, 3)).astype(np.float32)
    spec = "rotate=20,shift=0.2,zoom=0.2,contrast=0.5,brightness=0.5"
    transform, applied = _transform({"augment": spec}, x, np.zeros(16, np.int64))
    out, _ = _call(transform, x, np.zeros(16, np.int64))
    low, high = applied.plan.stats.value_range
    assert out.shape == x.shape
    assert out.min() >= low - 1e-6
    assert out.max() <= high + 1e-6
    assert np.abs(out - x).mean() > 0.05


def test_horizontal_flip_mirrors_some_images_and_leaves_the_others_exactly():
    x = np.random.default_rng(5).random((64, 5, 7, 1)).astype(np.float32)
    transform, _ = _transform({"augment": "flip"}, x, np.zeros(64, np.int64))
    out, _ = _call(transform, x, np.zeros(64, np.int64))
    same = [np.array_equal(o, a) for o, a in zip(out, x, strict=True)]
    mirrored = [np.array_equal(o, a[:, ::-1]) for o, a in zip(out, x, strict=True)]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert 10 < sum(mirrored) < 54


@pytest.mark.parametrize("batched", [False, True])
def test_a_native_dataset_gets_its_spread_from_its_first_samples(batched):
    x = np.random.default_rng(6).normal(0, [0.5, 2.0], size=(5000, 2)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(5000, np.int64)))
    dataset = dataset.batch(100) if batched else dataset
    handle = SimpleNamespace(model=_model((2,), 3, "sparse_categorical_crossentropy"))
    bundle = DataBundle(dataset, dataset, "entry-point", "data.py:load", framework="tensorflow")
    plan = make_plan(AugmentOptions.from_given({"noise": 1.0}), (2,), True, "keras")
    stats = augment_keras.apply(handle, bundle, plan, 0).plan.stats
    assert stats.samples == augment_keras.STATS_SAMPLES
    assert stats.std == pytest.approx(x[: stats.samples].std(axis=0), rel=1e-5)
