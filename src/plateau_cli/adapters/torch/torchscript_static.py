"""What a TorchScript archive holds, read without running any of it.

A TorchScript archive is code: `torch.jit.load` compiles the archive's `code/` and a scripted
`forward` can call anything TorchScript offers, `torch.from_file(path, shared=True)` included,
which creates and writes any file. So without `--trust-pickle` nothing of it is loaded by torch.
What `inspect` can still say comes from `data.pkl`, read here by an unpickler that builds only
inert records: the module classes become plain attribute holders, tensors become (shape, dtype)
records (their bytes are never read), and any other global is refused.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Any

from plateau_cli.zips import DAMAGED_ZIP_ERRORS

#: Storage classes as torch pickles them (`torch.FloatStorage`...), by their dtype's name.
_STORAGES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
}


@dataclass(frozen=True)
class TensorRecord:
    name: str
    shape: tuple[int, ...]
    dtype: str
    #: Saved with requires_grad: a parameter (buffers such as running means are saved without).
    parameter: bool

    @property
    def count(self) -> int:
        return prod(self.shape)


@dataclass(frozen=True)
class ScriptSummary:
    """The module's tensors, in the order the archive stores them."""

    root_class: str
    tensors: tuple[TensorRecord, ...]

    @property
    def parameters(self) -> tuple[TensorRecord, ...]:
        return tuple(t for t in self.tensors if t.parameter)

    def sentence(self, listed: int = 4) -> str:
        """`51 parameters in 4 tensors (fc.weight (3, 4) float32, ...)`, for one line."""
        params = self.parameters or self.tensors
        total = sum(t.count for t in params)
        shown = ", ".join(f"{t.name} {t.shape} {t.dtype}" for t in params[:listed])
        more = f", +{len(params) - listed} more" if len(params) > listed else ""
        return f"{total:,} parameters in {len(params)} tensors ({shown}{more})"


class _Storage:
    def __init__(self, dtype: str) -> None:
        self.dtype = dtype


class _Tensor:
    def __init__(self, storage: Any, size: Any, requires_grad: Any) -> None:
        self.dtype = storage.dtype if isinstance(storage, _Storage) else "unknown"
        self.shape = tuple(int(d) for d in size) if isinstance(size, tuple | list) else ()
        self.requires_grad = bool(requires_grad)


class _ScriptObject:
    """Stands in for a scripted module class: keeps its attributes, runs nothing."""

    class_name = "?"

    def __setstate__(self, state: Any) -> None:
        self.attributes = state if isinstance(state, dict) else {}


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> _Tensor:
    del offset, stride
    return _Tensor(storage, size, rest[0] if rest else False)


class _InertUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "__torch__" or module.startswith("__torch__."):
            return type(name, (_ScriptObject,), {"class_name": f"{module}.{name}"})
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGES:
            return _STORAGES[name]
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        raise pickle.UnpicklingError(f"{module}.{name} is not read without --trust-pickle")

    def persistent_load(self, pid: Any) -> Any:
        # ('storage', storage_type, key, location, numel): the bytes stay in the archive.
        if isinstance(pid, tuple) and len(pid) >= 2 and pid[0] == "storage":
            kind = pid[1]
            return _Storage(kind if isinstance(kind, str) else "unknown")
        raise pickle.UnpicklingError("unexpected persistent id")


def torchscript_refusal(path: Path) -> str:
    """One line: the archive carries code, what can be read without it, and how to allow it."""
    summary = read_script_summary(path)
    readable = f"; without running it, the archive shows {summary.sentence()}" if summary else ""
    return (
        f"{path}: a TorchScript archive carries code (its scripted forward and methods) that"
        " would run on this machine when loaded, and TorchScript code can write files; refusing"
        f" to load it{readable}. If you made the file or trust where it came from, pass"
        " --trust-pickle (also spelled --trust-code)"
    )


def read_script_summary(path: Path) -> ScriptSummary | None:
    """The archive's tensors, or None when data.pkl holds something this reader does not know."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next(
                (n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1),
                None,
            )
            if name is None:
                return None
            data = archive.read(name)
    except DAMAGED_ZIP_ERRORS:
        return None
    try:
        root = _InertUnpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, MemoryError, RecursionError, UnicodeDecodeError, OverflowError):  # fmt: skip
        return None
    if not isinstance(root, _ScriptObject):
        return None
    return ScriptSummary(root.class_name, tuple(_walk(root, "", set())))


def _walk(node: _ScriptObject, prefix: str, seen: set[int]) -> Iterator[TensorRecord]:
    if id(node) in seen:
        return
    seen.add(id(node))
    for key, value in getattr(node, "attributes", {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, _Tensor):
            yield TensorRecord(name, value.shape, value.dtype, value.requires_grad)
        elif isinstance(value, _ScriptObject):
            yield from _walk(value, f"{name}.", seen)
