"""Text a person reads: no references to documents they do not have."""

from __future__ import annotations

import re

_DOC_REFERENCE = re.compile(r"\s*\((?:FINDINGS|DESIGN)[^)]*\)")


def plain(text: str) -> str:
    """Drop "(FINDINGS §2)"-style references: the user has the tool, not our notes."""
    return _DOC_REFERENCE.sub("", text)
