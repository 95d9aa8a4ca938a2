"""Facts read from a Keras checkpoint file without building the model.

Keras itself reports some things only as log lines (an optimizer state it could not use) and
others not at all (which Keras version wrote the file, whether the file held any optimizer
state, which layers carry Python bytecode). Reading them first lets `loading` check what Keras
did, refuse unsafe files naming the layer, and word version failures precisely.

`.keras` (v3): a zip of `metadata.json` (keras_version), `config.json` (architecture plus
`compile_config`) and `model.weights.h5`, whose `optimizer/vars/0..N` hold the optimizer
variables in order, `vars/0` being `iterations`. Legacy `.h5`: attributes `keras_version`,
`backend`, `model_config`, `training_config`, and an `optimizer_weights` group listing
`weight_names` (Keras 3: `adam/iteration`, Keras 2: `Adam/iter:0`).
"""

from __future__ import annotations

import contextlib
import io
import json
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import h5py
import numpy as np

from plateau_cli.adapters.sniff import KERAS_H5, KERAS_V3
from plateau_cli.errors import CorruptCheckpointError, UnknownFormatError
from plateau_cli.keras_config_scan import blocked_calls, owner_name
from plateau_cli.zips import DAMAGED_ZIP_ERRORS

_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "model.weights.h5"


@dataclass(frozen=True)
class FileFacts:
    """What the file says about itself."""

    format: str
    keras_version: str | None
    backend: str | None
    date_saved: str | None
    #: compile() information present (`compile_config` / `training_config`).
    compiled: bool
    #: Optimizer class named in the compile information, e.g. "Adam".
    optimizer_class: str | None
    #: Number of optimizer variables stored; None when the file stores no optimizer group.
    optimizer_variables: int | None
    #: The optimizer's step count as stored, when it could be found.
    iterations: int | None
    #: Names of objects whose config holds Python bytecode (Lambda layers, lambda losses).
    code_objects: tuple[str, ...]
    #: "<owner> calls <api>" for every Keras API the config names that is not a model part
    #: (downloads, file writers, safe-mode switches): see `blocked_calls`.
    blocked_calls: tuple[str, ...] = ()
    #: A mixed-precision policy the layers were saved under ("mixed_float16"), else None.
    dtype_policy: str | None = None


def mixed_policy(config: Any) -> str | None:
    """The first `mixed_*` dtype policy named anywhere in a model config (Keras 3 writes
    `{"class_name": "DTypePolicy", "config": {"name": "mixed_float16"}}` per layer, tf.keras
    `{"class_name": "Policy", ...}`)."""
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            inner = item.get("config")
            if item.get("class_name") in ("DTypePolicy", "Policy") and isinstance(inner, dict):
                name = inner.get("name")
                if isinstance(name, str) and name.startswith("mixed_"):
                    return name
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def read_facts(path: Path, fmt: str) -> FileFacts:
    """Read the facts, or raise CorruptCheckpointError for a file that cannot be opened."""
    try:
        if fmt == KERAS_V3:
            return _read_v3(path)
        if fmt == KERAS_H5:
            return _read_h5(path)
    except json.JSONDecodeError as exc:
        raise CorruptCheckpointError(
            f"{path}: the model configuration inside is not valid JSON ({exc.msg} at line"
            f" {exc.lineno}); the file is damaged"
        ) from exc
    except UnicodeDecodeError as exc:
        raise CorruptCheckpointError(
            f"{path}: the model configuration inside is not text ({exc.reason}); the file is"
            " damaged"
        ) from exc
    except OSError as exc:  # h5py: "Unable to open file (truncated file: eof = ...)"
        raise CorruptCheckpointError(
            f"{path}: cannot read the HDF5 data ({_first_line(exc)}); the file is damaged or"
            " truncated: restore it from a good copy"
        ) from exc
    except DAMAGED_ZIP_ERRORS as exc:  # after the JSON and text errors it includes
        raise CorruptCheckpointError(
            f"{path}: a damaged or truncated .keras archive ({exc}); restore it from a good copy"
        ) from exc
    raise UnknownFormatError(f"{path}: format {fmt!r} is not a Keras checkpoint format")


def _read_v3(path: Path) -> FileFacts:
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if _CONFIG not in names:
            raise CorruptCheckpointError(f"{path}: a zip archive without config.json")
        config = _json_object(archive.read(_CONFIG), path, _CONFIG)
        metadata = (
            _json_object(archive.read(_METADATA), path, _METADATA) if _METADATA in names else {}
        )
        count = iterations = None
        if _WEIGHTS in names:
            with _member(path, archive, _WEIGHTS) as raw, h5py.File(raw, "r") as weights:
                count, iterations = _v3_optimizer_state(weights)
    compile_config = config.get("compile_config")
    return FileFacts(
        format=KERAS_V3,
        keras_version=_text(metadata.get("keras_version")),
        backend=None,
        date_saved=_text(metadata.get("date_saved")),
        compiled=bool(compile_config),
        optimizer_class=_class_name((compile_config or {}).get("optimizer")),
        optimizer_variables=count,
        iterations=iterations,
        code_objects=tuple(_code_objects(config)),
        blocked_calls=tuple(blocked_calls(config)),
        dtype_policy=mixed_policy(config),
    )


@contextlib.contextmanager
def _member(path: Path, archive: zipfile.ZipFile, name: str) -> Iterator[IO[bytes]]:
    """A readable, seekable view of one archive member.

    Keras stores members uncompressed; such a member is read in place through a window on the
    file (O(1) seeks). `ZipFile.open` would do, but on Python < 3.12 every backward seek
    re-reads the member from its start, and HDF5 seeks a lot: 0.07 s for a 22 MB model.
    """
    info = archive.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        with archive.open(name) as member:
            yield member
        return
    with open(path, "rb") as raw:
        raw.seek(info.header_offset)
        header = raw.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"bad local header for {name}")
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        yield _Window(raw, info.header_offset + 30 + name_length + extra_length, info.file_size)


class _Window(io.RawIOBase):
    """Bytes [start, start + size) of an open file, as a file of their own."""

    def __init__(self, raw: IO[bytes], start: int, size: int) -> None:
        super().__init__()
        self._raw, self._start, self._size, self._position = raw, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = max(0, min(len(view), self._size - self._position))
        if wanted == 0:
            return 0
        self._raw.seek(self._start + self._position)
        got = self._raw.readinto(view[:wanted]) or 0
        self._position += got
        return got


def _json_object(text: str | bytes, path: Path, what: str) -> dict[str, Any]:
    parsed = json.loads(text)
    if not isinstance(parsed, dict):
        raise CorruptCheckpointError(
            f"{path}: {what} holds a JSON {type(parsed).__name__}, not the object Keras writes;"
            " the file is damaged"
        )
    return parsed


def _v3_optimizer_state(weights: h5py.File) -> tuple[int | None, int | None]:
    group = weights.get("optimizer/vars")
    if not isinstance(group, h5py.Group):
        return None, None
    count = len(group.keys())
    # A LossScaleOptimizer (mixed precision) counts its steps in the optimizer it wraps.
    inner = weights.get("optimizer/inner_optimizer/vars")
    first = inner.get("0") if isinstance(inner, h5py.Group) else group.get("0")
    return count, _int_scalar(first)


def _read_h5(path: Path) -> FileFacts:
    with h5py.File(path, "r") as handle:
        attrs = handle.attrs
        model_config = _text(attrs.get("model_config"))
        if model_config is None:
            raise UnknownFormatError(_weights_only_message(path, handle))
        config = _json_object(model_config, path, "model_config")
        training = _text(attrs.get("training_config"))
        training_config = _json_object(training, path, "training_config") if training else None
        count = iterations = None
        group = handle.get("optimizer_weights")
        if isinstance(group, h5py.Group):
            names = [_text(n) or "" for n in group.attrs.get("weight_names", [])]
            count = len(names)
            for name in names:
                if name.rsplit("/", 1)[-1].split(":")[0] in ("iteration", "iter", "iterations"):
                    iterations = _int_scalar(group.get(name))
                    break
        return FileFacts(
            format=KERAS_H5,
            keras_version=_text(attrs.get("keras_version")),
            backend=_text(attrs.get("backend")),
            date_saved=None,
            compiled=bool(training_config),
            optimizer_class=_class_name((training_config or {}).get("optimizer_config")),
            optimizer_variables=count,
            iterations=iterations,
            code_objects=tuple(_code_objects(config)),
            blocked_calls=tuple(blocked_calls(config)),
            dtype_policy=mixed_policy(config),
        )


def _weights_only_message(path: Path, handle: h5py.File) -> str:
    if "layer_names" in handle.attrs or "model_weights" not in handle:
        return (
            f"{path}: an HDF5 file with weights only (written by save_weights), no model; name"
            " the code that builds the model (--model-factory build.py:make_model), or save the"
            " whole model with model.save('model.keras')"
        )
    return f"{path}: an HDF5 file without a Keras model configuration (no 'model_config')"


def _code_objects(config: Any) -> list[str]:
    """Who in the config carries Python bytecode (what safe_mode refuses to deserialise)."""
    found: list[str] = []

    def visit(node: Any, owner: str) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item, owner)
            return
        if not isinstance(node, dict):
            return
        cls = node.get("class_name")
        inner = node.get("config") if isinstance(node.get("config"), dict) else {}
        if cls == "__lambda__" or (cls == "Lambda" and inner.get("function_type") == "lambda"):
            found.append(owner if cls == "__lambda__" else owner_name(cls, inner, owner))
            if cls == "__lambda__":
                return
        if isinstance(cls, str) and cls != "__lambda__" and inner.get("name"):
            owner = owner_name(cls, inner, owner)
        for key, value in node.items():
            visit(value, "the compile configuration" if key == "compile_config" else owner)

    visit(config, "the model configuration")
    return list(dict.fromkeys(found))


def _class_name(config: Any) -> str | None:
    if isinstance(config, dict):
        name = config.get("class_name")
        return str(name).split(">")[-1] if name else None
    if isinstance(config, str):
        return config
    return None


def _int_scalar(dataset: Any) -> int | None:
    if not isinstance(dataset, h5py.Dataset) or dataset.shape not in ((), (1,)):
        return None
    value = np.asarray(dataset[()]).reshape(())
    if value.dtype.kind not in "iuf":
        return None
    return int(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", "replace")
    return str(value)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
