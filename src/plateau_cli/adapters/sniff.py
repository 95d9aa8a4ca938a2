"""Which framework and format a checkpoint is, from its bytes, without importing any framework.

The extension is only a hint: a `.pt` can be a TorchScript archive or a zip of a state dict,
a `.h5` can be Keras or something else entirely, and a text file named model.keras must get a
clear "not a Keras archive" rather than a zip error from deep inside Keras.
"""

from __future__ import annotations

import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from plateau_cli.errors import (
    BadInputError,
    CorruptCheckpointError,
    UnknownFormatError,
    UnsafeCheckpointError,
)
from plateau_cli.special_files import refuse_special
from plateau_cli.zips import DAMAGED_ZIP_ERRORS, bomb_reason

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTOCOL_2_PLUS = b"\x80"
#: Keras' config.json and metadata.json: kilobytes for most models, a few MB for huge ones.
MAX_JSON_MEMBER_BYTES = 64 << 20
#: Stored and deflated: what Keras (zipfile) and torch.save (miniz) write.
_COMPRESSIONS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})


@dataclass(frozen=True)
class Sniffed:
    framework: str  # "keras" | "torch"
    format: str


KERAS_V3 = "keras-v3"
KERAS_H5 = "keras-h5"
TORCH_ZIP = "torch-zip"  # torch.save archive; the adapter refines it after a safe load
TORCH_LEGACY = "torch-legacy"  # torch.save with _use_new_zipfile_serialization=False
TORCHSCRIPT = "torchscript"
SAFETENSORS = "safetensors"
#: A Hugging Face `save_pretrained` / Trainer `checkpoint-N/` directory.
HF_DIRECTORY = "hf-checkpoint-dir"
HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: A `keras.callbacks.BackupAndRestore(backup_dir=...)` directory: weights and the epoch reached.
KERAS_BACKUP_DIR = "keras-backup-dir"
BACKUP_WEIGHTS = "latest.weights.h5"
BACKUP_METADATA = "training_metadata.json"
#: `double_checkpoint=True` keeps the previous state beside the latest, with this suffix.
BACKUP_PREVIOUS = ".bkp"


def sniff_checkpoint(path: Path) -> Sniffed:
    """Identify a checkpoint, or raise a BadInputError subclass with one clear line."""
    if not path.exists():
        raise BadInputError(f"{path}: no such file or directory")
    if path.is_dir():
        return _sniff_directory(path)
    refuse_special(path, "a checkpoint file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if not head:
        raise CorruptCheckpointError(f"{path}: the file is empty")
    if head.startswith(ZIP_MAGIC):
        return _sniff_zip(path)
    if head.startswith(HDF5_MAGIC):
        return Sniffed("keras", KERAS_H5)
    if _looks_like_safetensors(path, head):
        return Sniffed("torch", SAFETENSORS)
    if head.startswith(PICKLE_PROTOCOL_2_PLUS):
        return Sniffed("torch", TORCH_LEGACY)
    hint = ""
    if path.suffix in {".keras", ".h5", ".hdf5"}:
        hint = f" (a {path.suffix} file should be a zip archive or HDF5; this one is neither)"
    elif path.suffix in {".pt", ".pth", ".ckpt", ".bin"}:
        hint = f" (a {path.suffix} file should be a torch.save archive; this one is not)"
    raise UnknownFormatError(
        f"{path}: not a checkpoint plateau-cli can read{hint}; expected a Keras .keras/.h5 file,"
        " a torch.save/TorchScript archive, or a .safetensors file"
    )


def _sniff_directory(path: Path) -> Sniffed:
    if (path / "config.json").is_file() and any((path / n).is_file() for n in HF_WEIGHT_FILES):
        return Sniffed("torch", HF_DIRECTORY)
    if _is_keras_backup(path):
        return Sniffed("keras", KERAS_BACKUP_DIR)
    if (path / "saved_model.pb").exists() or (path / "saved_model.pbtxt").exists():
        raise UnknownFormatError(
            f"{path}: a TensorFlow SavedModel, which Keras 3 can only run for inference, not train;"
            " re-save the model from the code that built it with model.save('model.keras'), or"
            " wrap it with keras.layers.TFSMLayer inside a new model and save that"
        )
    hint = ""
    if (path / "model.safetensors.index.json").is_file():
        hint = " (sharded Hugging Face weights are not read yet: save with a larger max_shard_size)"
    elif (path / "config.json").is_file():
        hint = " (a config.json without model.safetensors or pytorch_model.bin beside it)"
    raise BadInputError(
        f"{path}: is a directory; expected a checkpoint file or a Hugging Face checkpoint"
        f" directory{hint}"
    )


def _is_keras_backup(path: Path) -> bool:
    """What BackupAndRestore leaves after an interrupted fit (a finished fit deletes it)."""
    names = (BACKUP_WEIGHTS, BACKUP_WEIGHTS + BACKUP_PREVIOUS, BACKUP_METADATA)
    return any((path / name).is_file() for name in names)


def _sniff_zip(path: Path) -> Sniffed:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except DAMAGED_ZIP_ERRORS as exc:
        # NotImplementedError: a central directory claiming an unknown zip version (fuzzing)
        raise CorruptCheckpointError(
            f"{path}: a damaged or truncated zip archive ({exc}); restore it from a good copy"
        ) from exc
    _check_members(path, members)
    names = [member.filename for member in members]
    if "config.json" in names and ("metadata.json" in names or "model.weights.h5" in names):
        return Sniffed("keras", KERAS_V3)
    stems = {name.split("/", 1)[1] if "/" in name else name for name in names}
    if "constants.pkl" in stems and any(s.startswith("code/") for s in stems):
        return Sniffed("torch", TORCHSCRIPT)
    if "data.pkl" in stems:
        return Sniffed("torch", TORCH_ZIP)
    raise UnknownFormatError(
        f"{path}: a zip archive that is neither a Keras .keras file (no config.json) nor a"
        " torch.save archive (no data.pkl)"
    )


def _check_members(path: Path, members: list[zipfile.ZipInfo]) -> None:
    """Refuse archives no framework writes, before anything reads or extracts a member.

    Keras extracts a .keras archive into a temporary directory when it holds assets, and reads
    config.json into memory whole (its own bomb guard starts at 4 GiB); our archive reader
    reads config.json first. Member names that climb out of a directory and members that
    inflate a thousandfold are the two ways a crafted archive turns that into harm; members
    encrypted or compressed in a way no checkpoint writer uses would only fail later, deep inside
    a framework, with an exception nobody translates (found by fuzzing).
    """
    for member in members:
        name = member.filename
        if member.flag_bits & 0x1:
            raise CorruptCheckpointError(
                f"{path}: archive member {name!r} is encrypted; Keras and torch.save never"
                " encrypt: the file is damaged or not a checkpoint"
            )
        if member.compress_type not in _COMPRESSIONS:
            raise CorruptCheckpointError(
                f"{path}: archive member {name!r} uses compression method"
                f" {member.compress_type}, which Keras and torch.save never write: the file is"
                " damaged or not a checkpoint"
            )
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ".." in parts or name[1:2] == ":":
            raise UnsafeCheckpointError(
                f"{path}: archive member {name!r} points outside the archive (an absolute path"
                " or '..'); neither Keras nor torch.save writes such names, so the file was"
                " crafted or damaged: refusing to open it"
            )
        if name in ("config.json", "metadata.json") and member.file_size > MAX_JSON_MEMBER_BYTES:
            raise UnsafeCheckpointError(
                f"{path}: archive member {name!r} declares {member.file_size:,} bytes stored in"
                f" {member.compress_size:,}; that is a decompression bomb, not a checkpoint:"
                " refusing to open it"
            )
    reason = bomb_reason(members, path.stat().st_size)
    if reason is not None:
        raise UnsafeCheckpointError(
            f"{path}: {reason}; that is a decompression bomb, not a checkpoint: refusing to open it"
        )


def _looks_like_safetensors(path: Path, head: bytes) -> bool:
    """A little-endian u64 header length followed by a JSON object."""
    if len(head) < 9:
        return False
    (length,) = struct.unpack("<Q", head[:8])
    if not (2 <= length <= 100_000_000) or head[8:9] != b"{":
        return False
    try:
        with open(path, "rb") as fh:
            fh.seek(8)
            header = json.loads(fh.read(length))
    except (OSError, ValueError):
        return False
    return isinstance(header, dict)
