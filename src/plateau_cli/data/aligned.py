"""Arrays whose memory a framework can share instead of copying: 64-byte aligned, C order.

A training array is read once and then held for the whole run, so every copy of it counts:
a 256 MB array read by numpy and converted by `tf.convert_to_tensor` is held twice (and
briefly three times during the conversion; measured with TF 2.21). TensorFlow can take numpy's
memory as it is through DLPack, but only when the data is aligned to Eigen's widest vector
(64 bytes on AVX-512 builds): a less aligned buffer aborts the interpreter inside the first
kernel that reads it. numpy's allocator aligns to 16 bytes, so the readers here allocate their
arrays on a 64-byte boundary, and `is_shareable` is the one test the adapters use before they
share. torch's `from_numpy` shares any C-ordered array; the alignment costs it nothing.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

#: Eigen's EIGEN_MAX_ALIGN_BYTES on AVX-512 builds, the widest TensorFlow checks for.
ALIGNMENT = 64
_CHUNK = 1 << 24


def empty(shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised C-ordered array whose data starts on an ALIGNMENT-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buffer = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    start = (-buffer.ctypes.data) % ALIGNMENT
    return buffer[start : start + nbytes].view(dtype).reshape(shape)


def is_aligned(array: np.ndarray) -> bool:
    return array.ctypes.data % ALIGNMENT == 0


def is_shareable(array: np.ndarray) -> bool:
    """Aligned, C-contiguous, writable (DLPack cannot export a read-only array) and numeric."""
    return (
        isinstance(array, np.ndarray)
        and array.size > 0
        and array.flags.c_contiguous
        and array.flags.writeable
        and array.dtype.kind in "biuf"
        and is_aligned(array)
    )


def as_aligned(array: np.ndarray, dtype: np.dtype | type | None = None) -> np.ndarray:
    """`array` as `dtype` (default: its own), aligned and C-ordered; copied only if needed."""
    target = np.dtype(dtype) if dtype is not None else array.dtype
    if array.dtype == target and array.flags.c_contiguous and is_aligned(array):
        return array
    out = empty(array.shape, target)
    np.copyto(out, array, casting="unsafe")
    return out


def take_rows(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`array[rows]` into an aligned array (numpy's own result would be 16-byte aligned)."""
    out = empty((len(rows), *array.shape[1:]), array.dtype)
    np.take(array, rows, axis=0, out=out)
    return out


def read_npy_header(stream: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype] | None:
    """(shape, Fortran order, dtype) from an .npy stream's header, the stream left at the data;
    None for a format version other than 1.0 and 2.0."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(stream)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(stream)
    return None


def read_npy(stream: BinaryIO) -> np.ndarray | None:
    """An .npy stream read straight into an aligned array; None for what numpy must read itself
    (object arrays, Fortran order, format 3.0), so its own errors and conversions still apply.
    """
    header = read_npy_header(stream)
    if header is None:
        return None
    shape, fortran, dtype = header
    if fortran or dtype.hasobject or dtype.kind not in "biuf":
        return None
    out = empty(tuple(shape), dtype)
    view = memoryview(out.reshape(-1).view(np.uint8))
    done = 0
    while done < len(view):
        # In pieces: a zip member's readinto reads the whole request into a bytes object first.
        count = stream.readinto(view[done : done + _CHUNK])
        if not count:
            raise ValueError(f"the data ends after {done} of {len(view)} bytes")
        done += count
    return out
