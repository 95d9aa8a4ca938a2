"""data_health: each warning fires on the problem it names, with its numbers, and not otherwise."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from plateau_cli.data import ArraySplit, DataBundle, HealthWarning, data_health
from plateau_cli.data import duplicates as dup
from tests.data.data_fixtures import io_spec


def bundle(x, y, xv, yv, **kw):
    return DataBundle(
        ArraySplit(np.asarray(x), np.asarray(y)),
        ArraySplit(np.asarray(xv), np.asarray(yv)),
        format="npz",
        source="data.npz",
        **kw,
    )


def standard(n, features=8, seed=0, classes=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype(np.float32), np.arange(n) % classes


def ids(warnings):
    return [w.id for w in warnings]


def by_id(warnings, slug):
    (found,) = [w for w in warnings if w.id == slug]
    return found


def test_clean_data_has_no_warnings():
    x, y = standard(400)
    xv, yv = standard(100, seed=1)
    assert data_health(bundle(x, y, xv, yv), io_spec((8,), units=4)) == []


def test_real_digits_scaled_to_unit_range_raise_nothing():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x, y = (digits.data / 16).astype(np.float32), digits.target
    order = np.random.default_rng(0).permutation(len(x))
    train, val = order[:1400], order[1400:]
    data = bundle(x[train], y[train], x[val], y[val])
    assert data_health(data, io_spec((64,), units=10)) == []
    raw = bundle(digits.data[train], y[train], digits.data[val], y[val])  # 0..16 counts
    warning = by_id(data_health(raw, io_spec((64,), units=10)), "unnormalised-inputs")
    assert "pixel_like" not in warning.evidence  # 0..16 is not 8-bit pixels
    assert warning.evidence["large_features"] > 0


def test_health_warning_is_frozen():
    warning = HealthWarning("duplicates", "text", {"count": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        warning.id = "other"  # type: ignore[misc]


def test_raw_pixels():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(200, 6, 6, 1)).astype(np.float32)
    data = bundle(pixels[:150], np.arange(150) % 2, pixels[150:], np.arange(50) % 2,
                  source_dtype="uint8")  # fmt: skip
    warning = by_id(data_health(data, io_spec((6, 6, 1), units=2)), "unnormalised-inputs")
    assert warning.evidence["pixel_like"] is True
    assert (warning.evidence["min"], warning.evidence["max"]) == (0.0, 255.0)
    assert warning.evidence["stored_dtype"] == "uint8"
    assert "Inputs range 0..255 like raw pixel values (stored as uint8)" in warning.text
    assert "divide by 255" in warning.text


def test_one_large_tabular_column_is_named():
    x, y = standard(300, features=5)
    x[:, 3] = x[:, 3] * 5000 + 40000  # income in dollars
    data = bundle(x[:200], y[:200], x[200:], y[200:], feature_names=("a", "b", "c", "income", "e"))
    warning = by_id(data_health(data, io_spec((5,), units=4)), "unnormalised-inputs")
    assert warning.evidence["large_features"] == 1
    assert warning.evidence["worst_feature"] == "income"
    assert warning.evidence["worst_mean"] == pytest.approx(40000, rel=0.05)
    assert "1 of 5 input features are far from unit scale (largest: 'income'" in warning.text


def test_inputs_scaled_twice():
    rng = np.random.default_rng(0)
    x = (rng.random((200, 10)) / 255).astype(np.float32)
    data = bundle(x[:150], np.arange(150) % 2, x[150:], np.arange(50) % 2)
    warning = by_id(data_health(data, None), "unnormalised-inputs")
    assert "look scaled twice" in warning.text
    assert warning.evidence["max"] <= 1 / 255


def test_unit_range_inputs_are_fine():
    rng = np.random.default_rng(0)
    x = rng.random((200, 10)).astype(np.float32)
    assert data_health(bundle(x[:150], np.arange(150) % 2, x[150:], np.arange(50) % 2), None) == []


def test_validation_scaled_differently():
    rng = np.random.default_rng(0)
    x = rng.random((300, 16)).astype(np.float32)
    data = bundle(x[:200], np.arange(200) % 2, x[200:] * 255, np.arange(100) % 2)
    warnings = data_health(data, io_spec((16,), units=2))
    warning = by_id(warnings, "scale-mismatch")
    assert warning.evidence["std_ratio"] == pytest.approx(255, rel=0.05)
    assert warning.evidence["val_mean"] == pytest.approx(255 * 0.5, rel=0.05)
    assert "Validation inputs are scaled differently from training" in warning.text
    assert ids(warnings) == ["scale-mismatch"]  # training itself is in [0, 1]


def test_imagenet_normalised_train_vs_unit_range_val():
    rng = np.random.default_rng(0)
    raw = rng.random((400, 12)).astype(np.float32)
    train = (raw[:300] - 0.45) / 0.25  # normalised with ImageNet-like statistics
    data = bundle(train, np.arange(300) % 2, raw[300:], np.arange(100) % 2)
    warning = by_id(data_health(data, None), "scale-mismatch")
    assert warning.evidence["std_ratio"] == pytest.approx(0.25, rel=0.1)
    assert warning.evidence["val_mean"] == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("seed", range(8))
def test_same_distribution_small_validation_is_not_flagged(seed):
    x, y = standard(1000, features=30, seed=seed)
    xv, yv = standard(25, features=30, seed=seed + 100)
    assert "scale-mismatch" not in ids(data_health(bundle(x, y, xv, yv), None))


def test_non_finite_values_are_counted_per_array():
    x, y = standard(100)
    xv, _ = standard(40, seed=1)
    x[3, 2] = np.nan
    x[5, 1] = np.inf
    yv = np.linspace(0, 1, 40).astype(np.float32)
    yv[7] = -np.inf
    warning = by_id(data_health(bundle(x, y.astype(np.float32), xv, yv), None), "non-finite")
    assert warning.evidence == {"x_train": {"nan": 1, "inf": 1}, "y_val": {"nan": 0, "inf": 1}}
    assert "x_train (1 NaN, 1 inf), y_val (0 NaN, 1 inf)" in warning.text


def test_class_imbalance_with_majority_baseline():
    x, _ = standard(200)
    y = np.array([0] * 180 + [1] * 20)
    yv = np.array([0] * 35 + [1] * 5)
    data = bundle(x, y, x[:40], yv, class_names=("ok", "defect"))
    warning = by_id(
        data_health(data, io_spec((8,), units=1, activation="sigmoid")), "class-imbalance"
    )
    assert warning.evidence["majority_class"] == "ok"
    assert warning.evidence["majority_share"] == pytest.approx(0.9)
    assert warning.evidence["imbalance_ratio"] == pytest.approx(9.0)
    assert warning.evidence["majority_baseline_accuracy"] == pytest.approx(35 / 40)
    assert warning.text.startswith("Class ok makes up 90% of the training labels (9.0x the rarest")
    assert "scores 88% accuracy on validation" in warning.text


def test_mild_imbalance_is_not_flagged():
    x, _ = standard(100)
    xv, _ = standard(10, seed=1)
    y = np.array([0] * 40 + [1] * 25 + [2] * 35)
    assert data_health(bundle(x, y, xv, y[:10]), io_spec((8,), units=3)) == []


def test_classes_the_model_has_but_the_data_lacks():
    x, _ = standard(100)
    y = np.arange(100) % 5
    warning = by_id(data_health(bundle(x, y, x, y), io_spec((8,), units=10)), "class-imbalance")
    assert warning.evidence["missing_classes"] == 5
    assert warning.evidence["imbalance_ratio"] is None
    assert "5 of 10 classes have no training samples" in warning.text


def test_one_hot_labels_are_counted_too():
    x, _ = standard(100)
    y = np.eye(3)[[0] * 90 + [1] * 5 + [2] * 5]
    warning = by_id(data_health(bundle(x, y, x, y), io_spec((8,), units=3, sparse=False)),
                    "class-imbalance")  # fmt: skip
    assert warning.evidence["majority_share"] == pytest.approx(0.9)


def test_regression_targets_are_not_counted_as_classes():
    x, _ = standard(100)
    y = np.array([0.0] * 95 + [1.5] * 5, dtype=np.float32)
    io = io_spec((8,), units=1, activation=None)
    assert "class-imbalance" not in ids(data_health(bundle(x, y, x[:10], y[:10]), io))


def test_validation_rows_copied_from_training():
    x, y = standard(500)
    xv, yv = standard(50, seed=1)
    xv[[4, 10, 30]] = x[[7, 100, 499]]
    warning = by_id(data_health(bundle(x, y, xv, yv), None), "duplicates")
    assert warning.evidence == {"count": 3, "share": 0.06, "val_samples": 50}
    assert warning.text.startswith("3 validation samples (6.0%) also appear, identical,")


def test_a_duplicate_under_one_percent_is_not_worth_a_warning():
    x, y = standard(500)
    xv, yv = standard(200, seed=1)
    xv[0] = x[0]
    assert "duplicates" not in ids(data_health(bundle(x, y, xv, yv), None))


def test_hash_collisions_never_make_a_false_duplicate(monkeypatch):
    monkeypatch.setattr(dup, "row_hashes", lambda rows: np.zeros(len(rows), dtype=np.uint64))
    reference = np.arange(12, dtype=np.float32).reshape(4, 3)
    query = np.array([[3, 4, 5], [3, 4, 6], [9, 10, 11]], dtype=np.float32)
    assert dup.rows_found_in(query, reference).tolist() == [True, False, True]


def test_duplicates_are_exact_bytes():
    reference = np.array([[0.0, 1.0]], dtype=np.float32)
    query = np.array([[-0.0, 1.0], [0.0, 1.0], [0.0, 1.0000001]], dtype=np.float32)
    assert dup.rows_found_in(query, reference).tolist() == [False, True, False]


def test_odd_row_widths_are_padded_for_hashing():
    reference = np.arange(15, dtype=np.uint8).reshape(5, 3)
    assert dup.rows_found_in(reference[[4, 0]], reference).tolist() == [True, True]
    assert dup.rows_found_in(reference[:1] + 100, reference).tolist() == [False]
