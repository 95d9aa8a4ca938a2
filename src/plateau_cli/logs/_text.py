"""Bytes to text and text to numbers, the way every text log reader needs it.

Logs come from Windows (a BOM, CRLF), from terminals (ANSI colour codes) and from processes that
were killed mid-write (a last line cut off, sometimes mid-way through a UTF-8 sequence). Decoding
never fails: undecodable bytes become U+FFFD, which no number or metric name matches, so damage
shows up as a skipped line rather than an exception.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from plateau_cli.errors import BadInputError

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")

#: A number as logs print it: 0.41, -1e-05, .5, 87%, nan, inf, -Infinity.
NUMBER = r"[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf(?:inity)?)%?"


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


def decode(data: bytes) -> str:
    """UTF-8 (or UTF-16 with a BOM) without a BOM; universal newlines are left to the caller."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace").lstrip("\ufeff")
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def to_float(token: str) -> float | None:
    """The value of one printed number, or None when it is not one (`n/a`, `-`, `0.4.1`)."""
    token = token.strip()
    if not token:
        return None
    percent = token.endswith("%")
    if percent:
        token = token[:-1]
    try:
        value = float(token)
    except ValueError:
        return None
    return value / 100.0 if percent and math.isfinite(value) else value


def split_lines(text: str) -> list[str]:
    """Lines on \\n, \\r\\n or a lone \\r; a lone \\r is a redrawn line, so it splits too."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
