"""Check what an `.npz` archive claims before numpy allocates anything for it.

`numpy.load` trusts each array's header: a 200-byte member whose header says (10**12, 64)
float64 makes numpy allocate 512 TB (a MemoryError, or the machine's swap) before it notices
the data is missing. And an archive is a zip: members that each look modest can together
inflate to gigabytes. Both are read here from the zip directory and the 100-odd header bytes
of each member: the array data is never touched.
"""

from __future__ import annotations

import zipfile
from math import prod
from pathlib import Path

import numpy as np

from plateau_cli.errors import CorruptFileError
from plateau_cli.zips import bomb_reason

_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def check_claims(path: Path, source: str) -> None:
    """Refuse a bomb or an array header that claims more than the archive holds."""
    if not zipfile.is_zipfile(path):
        return  # numpy's own error (not a zip, a single .npy) is worded by the caller
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        reason = bomb_reason(members, path.stat().st_size)
        if reason is not None:
            raise CorruptFileError(
                f"{source}: {reason}; that is a decompression bomb, not training data: refusing"
                " to read it"
            )
        for member in members:
            if member.filename.endswith(".npy"):
                _check_member(archive, member, source)


def _check_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, source: str) -> None:
    key = member.filename[: -len(".npy")]
    with archive.open(member) as handle:
        version = np.lib.format.read_magic(handle)
        reader = _HEADER_READERS.get(version)
        if reader is None:
            raise CorruptFileError(
                f"{source}: array {key!r} has an .npy header of version {version}, which this"
                " numpy cannot read"
            )
        shape, _, dtype = reader(handle)
        header = handle.tell()
    if dtype.hasobject:
        return  # refused when read (allow_pickle=False), with its own message
    claimed = prod(shape) * dtype.itemsize
    available = member.file_size - header
    if claimed > available:
        raise CorruptFileError(
            f"{source}: array {key!r} claims shape {tuple(shape)} of {dtype} ({claimed:,} bytes)"
            f" but the archive holds {max(available, 0):,} bytes for it; the file is damaged or"
            " crafted: refusing to allocate it"
        )
