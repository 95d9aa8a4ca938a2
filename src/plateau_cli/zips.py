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
