"""Exact duplicate rows between two arrays, by hashing each row's bytes.

Each row is viewed as 64-bit words and hashed as a seeded multiply-and-add over them (wrapping
arithmetic), in blocks so memory stays bounded; that is about 50 ms for 100k x 784 float32, where
a Python-level hash per row takes several times longer. The hash only proposes candidates: every
candidate pair is then compared byte for byte, so a collision can cost time but never a false
duplicate. "Identical" means identical bytes: 0.0 and -0.0 differ, as do two NaN payloads.
"""

from __future__ import annotations

import numpy as np

_BLOCK_ROWS = 4096
_MULTIPLIERS_SEED = 0x5EED


def row_bytes(x: np.ndarray) -> np.ndarray:
    """(rows, bytes) uint8 view of each row, zero-padded to a multiple of 8 bytes."""
    rows = np.ascontiguousarray(x).reshape(len(x), -1).view(np.uint8).reshape(len(x), -1)
    pad = -rows.shape[1] % 8
    return np.pad(rows, ((0, 0), (0, pad))) if pad else rows


def row_hashes(x: np.ndarray) -> np.ndarray:
    """A uint64 hash per row; equal rows always hash equal."""
    words = row_bytes(x).view(np.uint64)
    rng = np.random.default_rng(_MULTIPLIERS_SEED)
    multipliers = rng.integers(1, 2**63, size=words.shape[1], dtype=np.uint64) | np.uint64(1)
    out = np.empty(len(words), dtype=np.uint64)
    for start in range(0, len(words), _BLOCK_ROWS):
        block = words[start : start + _BLOCK_ROWS]
        out[start : start + _BLOCK_ROWS] = (block * multipliers).sum(axis=1, dtype=np.uint64)
    return out


def rows_found_in(query: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Boolean mask over `query`'s rows: True where an identical row exists in `reference`."""
    found = np.zeros(len(query), dtype=bool)
    if not len(query) or not len(reference):
        return found
    ref_hash = row_hashes(reference)
    order = np.argsort(ref_hash, kind="stable")
    ref_sorted = ref_hash[order]
    query_hash = row_hashes(query)
    lo = np.searchsorted(ref_sorted, query_hash, side="left")
    hi = np.searchsorted(ref_sorted, query_hash, side="right")
    query_rows, ref_rows = row_bytes(query), row_bytes(reference)
    hit = np.flatnonzero(hi > lo)
    # Almost always one candidate per hash: compare those in one vectorised step.
    for start in range(0, len(hit), _BLOCK_ROWS):
        rows = hit[start : start + _BLOCK_ROWS]
        found[rows] = (query_rows[rows] == ref_rows[order[lo[rows]]]).all(axis=1)
    for i in hit[~found[hit] & (hi[hit] - lo[hit] > 1)]:
        candidates = ref_rows[order[lo[i] + 1 : hi[i]]]
        found[i] = bool((candidates == query_rows[i]).all(axis=1).any())
    return found
