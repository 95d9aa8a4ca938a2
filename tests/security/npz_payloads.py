"""`.npz` files that lie in their array headers, or hold labels that do not fit int64."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np


def _header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return out.getvalue()


def huge_claim(path: Path) -> Path:
    """x_train's header claims (10**12, 64) float64 (512 TB); 64 bytes of data follow."""
    labels = io.BytesIO()
    np.save(labels, np.zeros(10, dtype=np.int64))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x_train.npy", _header((10**12, 64)) + bytes(64))
        archive.writestr("y_train.npy", labels.getvalue())
        archive.writestr("x_val.npy", _header((10**12, 64)) + bytes(64))
        archive.writestr("y_val.npy", labels.getvalue())
    return path


def uint64_labels(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    """The data with labels stored as uint64, one of them 2**63 + 5 (int64 would wrap it)."""
    wide = y.astype(np.uint64)
    wide[0] = np.uint64(2**63 + 5)
    np.savez(path, x_train=x, y_train=wide, x_val=x[:20], y_val=y[:20].astype(np.uint64))
    return path
