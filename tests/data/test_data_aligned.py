"""Arrays a framework can share: the readers allocate them 64-byte aligned, and nothing else
about them changes (values, dtype, shape)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from plateau_cli.data import aligned, parse_data_spec
from plateau_cli.data.npz import load_npz


def _load(path, val_split=None):
    spec = parse_data_spec(str(path), target=None, val_split=val_split, seed=0)
    return load_npz(spec)


def test_empty_is_aligned_and_c_ordered():
    for shape in [(7,), (3, 5), (2, 3, 4)]:
        array = aligned.empty(shape, np.float32)
        assert array.shape == shape
        assert array.dtype == np.float32
        assert array.ctypes.data % aligned.ALIGNMENT == 0
        assert array.flags.c_contiguous
        assert array.flags.writeable


def test_as_aligned_copies_only_when_it_must():
    ready = aligned.as_aligned(np.arange(12, dtype=np.float64), np.float32)
    assert aligned.as_aligned(ready, np.float32) is ready
    shifted = np.zeros(101, dtype=np.float32)[1:]  # 4 bytes off any 64-byte boundary
    moved = aligned.as_aligned(shifted)
    assert moved is not shifted
    assert aligned.is_aligned(moved)
    np.testing.assert_array_equal(moved, shifted)


def test_read_npy_gives_the_same_array_aligned():
    for array in [
        np.arange(10_000, dtype=np.float32).reshape(100, 100),
        np.arange(5, dtype=">i8"),  # big-endian: read as stored, numpy's dtype kept
        np.array([True, False]),
    ]:
        buffer = io.BytesIO()
        np.save(buffer, array)
        buffer.seek(0)
        read = aligned.read_npy(buffer)
        assert read is not None
        assert aligned.is_aligned(read)
        assert read.dtype == array.dtype
        np.testing.assert_array_equal(read, array)


def test_read_npy_leaves_fortran_order_to_numpy():
    buffer = io.BytesIO()
    np.save(buffer, np.asfortranarray(np.ones((3, 4))))
    buffer.seek(0)
    assert aligned.read_npy(buffer) is None


def test_read_npy_refuses_a_short_member():
    buffer = io.BytesIO()
    np.save(buffer, np.ones(100))
    cut = io.BytesIO(buffer.getvalue()[:-8])
    with pytest.raises(ValueError, match="ends after"):
        aligned.read_npy(cut)


def test_npz_arrays_are_shareable(tmp_path):
    x = np.random.default_rng(0).standard_normal((300, 7)).astype(np.float32)
    y = np.arange(300) % 3
    np.savez(tmp_path / "split.npz", x_train=x[:200], y_train=y[:200], x_val=x[200:], y_val=y[200:])
    np.savez(tmp_path / "whole.npz", x=x.astype(np.float64), y=y)
    split, whole = _load(tmp_path / "split.npz"), _load(tmp_path / "whole.npz", val_split=0.25)
    for bundle in (split, whole):
        for part in (bundle.train, bundle.val):
            assert aligned.is_shareable(part.x), part.x.ctypes.data % 64
            assert aligned.is_shareable(part.y)
            assert part.x.dtype == np.float32
            assert part.y.dtype == np.int64
    np.testing.assert_array_equal(split.train.x, x[:200])
    np.testing.assert_array_equal(split.val.y, y[200:])
    assert len(whole.train) == 225
    assert len(whole.val) == 75
    np.testing.assert_allclose(
        np.sort(np.concatenate([whole.train.x, whole.val.x]).sum(1)), np.sort(x.sum(1)), rtol=1e-6
    )
