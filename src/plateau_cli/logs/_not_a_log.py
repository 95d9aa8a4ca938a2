"""Files that are not training logs, named for what they are, so the refusal helps.

A checkpoint (a .keras zip, HDF5, a torch zip or pickle, safetensors) gets the suggestion to run
`plateau-cli inspect`; prose (Markdown, reStructuredText, a README) is refused before a free-text
reader can mistake its numbered lists for epochs.
"""

from __future__ import annotations

from pathlib import Path

from plateau_cli.errors import BadInputError

_CHECKPOINT_SUFFIXES = {".keras", ".h5", ".hdf5", ".pt", ".pth", ".ckpt", ".safetensors"}
_PROSE_SUFFIXES = {".md", ".markdown", ".rst", ".adoc"}


def _checkpoint_kind(path: Path, head: bytes) -> str | None:
    suffix = path.suffix.lower()
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "an HDF5 model file"
    if head.startswith(b"PK\x03\x04") and suffix != ".csv":
        return "a Keras .keras archive" if suffix == ".keras" else "a zipped checkpoint"
    if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        return "a pickled torch checkpoint"
    if suffix == ".safetensors" or (len(head) > 9 and head[8:10] == b'{"' and suffix != ".json"):
        return "a safetensors weights file"
    if suffix in _CHECKPOINT_SUFFIXES and b"\x00" in head[:512]:
        return "a model checkpoint"
    return None


def _looks_like_prose(path: Path, head: bytes) -> bool:
    if path.suffix.lower() in _PROSE_SUFFIXES:
        return True
    text = head.decode("utf-8", errors="replace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return False
    markdown = sum(ln.startswith(("#", "```", "- [", "|-", "![", "> ")) for ln in lines)
    return lines[0].startswith("# ") and markdown >= 3


def refuse_non_logs(path: Path, head: bytes) -> None:
    """Raise a one-line BadInputError when `head` starts a checkpoint or a prose document."""
    kind = _checkpoint_kind(path, head)
    if kind is not None:
        raise BadInputError(
            f"{path}: this is {kind}, not a training log; to see what it holds run"
            f" `plateau-cli inspect {path}` (diagnose reads the log the training wrote)"
        )
    if _looks_like_prose(path, head):
        raise BadInputError(
            f"{path}: this is a text document (Markdown/prose), not a training log; pass the"
            " file your training wrote (CSVLogger, metrics.csv, trainer_state.json, events...)"
        )
