"""UTF-16 logs (PowerShell's `>` writes them) read as the UTF-8 every reader expects.

With a BOM the encoding is certain; without one, a text file whose every other byte is NUL is
UTF-16 (little-endian when the NULs come second). Such a file is decoded once into a temporary
UTF-8 copy that the usual readers sniff and read; the caller names the original in the result.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}
#: Share of NULs at the odd (or even) positions of the first bytes that marks BOM-less UTF-16.
_NUL_SHARE = 0.9


def utf16_encoding(head: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' when `head` starts a UTF-16 text, else None."""
    for bom, name in _BOMS.items():
        if head.startswith(bom):
            return name
    sample = head[: len(head) // 2 * 2][:4096]
    if len(sample) < 8:
        return None
    odd, even = sample[1::2], sample[0::2]
    if odd.count(0) >= _NUL_SHARE * len(odd) and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) >= _NUL_SHARE * len(even) and odd.count(0) == 0:
        return "utf-16-be"
    return None


def transcoded(path: Path, encoding: str, workdir: str) -> Path:
    """A UTF-8 copy of the UTF-16 file at `path`, under `workdir`, with the same name."""
    data = path.read_bytes()
    text = data.decode(encoding, errors="replace").lstrip("\ufeff")
    copy = Path(workdir) / path.name
    copy.write_text(text, encoding="utf-8")
    return copy


def temporary_directory() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="plateau-utf16-")
