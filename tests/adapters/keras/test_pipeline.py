"""The Keras array pipeline: one seeded permutation per epoch, sliced into batches, and the
training array shared with TensorFlow instead of copied."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_cli.adapters.keras import pipeline
from plateau_cli.data import aligned
from plateau_cli.data.base import ArraySplit, DataBundle

tf = pytest.importorskip("tensorflow")


def _bundle(n: int) -> DataBundle:
    x = aligned.as_aligned(np.arange(n, dtype=np.float32).reshape(n, 1))
    y = aligned.as_aligned(np.arange(n, dtype=np.int64))
    return DataBundle(ArraySplit(x, y), ArraySplit(x[:4].copy(), y[:4].copy()), "npz", "t.npz")


def _epochs(prepared: pipeline.Prepared, count: int) -> list[list[list[int]]]:
    return [[yb.numpy().tolist() for _, yb in prepared.train] for _ in range(count)]


def test_each_epoch_is_a_new_permutation_of_every_row():
    prepared = pipeline.prepare(_bundle(10), 4, 7, None, 2, "float32")
    epochs = _epochs(prepared, 3)
    for batches in epochs:
        assert [len(b) for b in batches] == [4, 4, 2]
        assert sorted([row for batch in batches for row in batch]) == list(range(10))
    assert epochs[0] != epochs[1] != epochs[2]
    assert prepared.steps == 3
    assert int(prepared.train.cardinality()) == 3


def test_the_seed_fixes_the_order_and_another_seed_changes_it():
    first = _epochs(pipeline.prepare(_bundle(50), 8, 3, None, 2, "float32"), 2)
    again = _epochs(pipeline.prepare(_bundle(50), 8, 3, None, 2, "float32"), 2)
    other = _epochs(pipeline.prepare(_bundle(50), 8, 4, None, 2, "float32"), 2)
    assert first == again
    assert first != other


def test_copies_pass_over_every_row_that_many_times_in_one_stream():
    prepared = pipeline.prepare(_bundle(10), 4, 0, None, 2, "float32", copies=3)
    (batches,) = _epochs(prepared, 1)
    assert [len(b) for b in batches] == [4] * 7 + [2]  # 30 rows, batched across the passes
    assert sorted([row for batch in batches for row in batch]) == sorted(list(range(10)) * 3)
    assert prepared.steps == 8


def test_evaluation_and_validation_come_in_order():
    prepared = pipeline.prepare(_bundle(10), 4, 0, None, 2, "float32")
    assert [yb.numpy().tolist() for _, yb in prepared.train_eval] == [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9],
    ]
    assert [yb.numpy().tolist() for _, yb in prepared.val] == [[0, 1, 2, 3]]


def test_an_aligned_array_is_shared_not_copied():
    array = aligned.as_aligned(np.zeros((1000, 8), dtype=np.float32))
    tensor = pipeline.as_tensor(array)
    array[3, 5] = 42.0
    assert float(tensor[3, 5]) == 42.0


def test_an_unaligned_array_is_copied():
    array = np.zeros(1001, dtype=np.float32)[1:]  # 4 bytes past a 64-byte boundary at best
    assert not aligned.is_shareable(array)
    tensor = pipeline.as_tensor(array)
    array[0] = 42.0
    assert float(tensor[0]) == 0.0
