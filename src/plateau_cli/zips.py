"""What reading a damaged or foreign zip archive can raise, in one place.

`.keras`, torch.save archives and `.npz` files are zip archives, and `zipfile` reports damage
through many exception types (fuzzing found each of these): every reader catches this one tuple
and turns it into a one-line "damaged file" error, so none of them can be missed in one place
and caught in another.
"""

from __future__ import annotations

import zipfile
import zlib

DAMAGED_ZIP_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,  # bad magic number, truncated central directory
    OSError,  # unreadable or truncated file
    EOFError,  # a member shorter than its header says
    ValueError,  # a name flagged UTF-8 that is not (UnicodeDecodeError), negative offsets
    NotImplementedError,  # an unknown compression method or zip version
    RuntimeError,  # an encrypted member
    zlib.error,  # a corrupt deflate stream
)

#: Below this many bytes in all, an archive is never called a bomb, whatever its ratio.
BOMB_FLOOR_BYTES = 256 << 20
#: Keras and torch.save store members uncompressed (ratio 1); numpy's savez_compressed rarely
#: passes 20:1 on real data. An archive that inflates past the floor at more than this is a bomb.
MAX_EXPANSION = 100


def bomb_reason(members: list[zipfile.ZipInfo], stored_bytes: int) -> str | None:
    """Why the archive is a decompression bomb (one member or all of them together), or None.

    Checking each member alone misses the multi-member bomb: eight members of 250 MB zeros,
    each under any per-member limit, inflate a 2 MB file to 2 GB. The declared sizes come from
    the central directory, so nothing is inflated to find out.
    """
    for member in members:
        if member.file_size > BOMB_FLOOR_BYTES and member.file_size > MAX_EXPANSION * max(
            member.compress_size, 1
        ):
            return (
                f"archive member {member.filename!r} declares {member.file_size:,} bytes stored"
                f" in {member.compress_size:,}"
            )
    total = sum(member.file_size for member in members)
    if total > BOMB_FLOOR_BYTES and total > MAX_EXPANSION * max(stored_bytes, 1):
        return (
            f"its {len(members)} members declare {total:,} bytes in all, stored in"
            f" {stored_bytes:,} ({total // max(stored_bytes, 1):,}:1)"
        )
    return None
