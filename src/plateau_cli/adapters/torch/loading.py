"""Open torch files safely: nothing in a checkpoint runs unless the user said --trust-pickle.

Everything is read onto the CPU first (`map_location="cpu"`): a checkpoint saved on a GPU then
opens on a CPU-only machine, and the weights are copied to the chosen device once, after they
have been fitted into the module, instead of being held twice in GPU memory.
"""

from __future__ import annotations

import contextlib
import functools
import pickle
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from plateau_cli.adapters.torch.torchscript_static import torchscript_refusal
from plateau_cli.adapters.torch.unsafe import refusal_message, unsafe_globals
from plateau_cli.errors import BadInputError, CorruptCheckpointError, UnsafeCheckpointError

#: What torch.load raises on truncated or damaged files (struct.error: a short read). Fuzzing
#: found the rest: a legacy file whose storage keys were altered fails an `assert` in torch's
#: reader, a bent reduce call a TypeError, a zip "version 8.8" a NotImplementedError.
_UNREADABLE = (
    RuntimeError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    OSError,
    struct.error,
    AssertionError,
    TypeError,
    AttributeError,
    NotImplementedError,
    OverflowError,
    MemoryError,
)


@dataclass(frozen=True)
class LoadedFile:
    """What came out of the file, and how it was opened."""

    obj: Any
    #: Opened with weights_only=False (the user passed --trust-pickle and the safe loader refused).
    trusted: bool = False
    #: The `__metadata__` of a safetensors header, written back on save.
    metadata: dict[str, str] = field(default_factory=dict)


@functools.cache
def numpy_safe_globals() -> tuple[Any, ...]:
    """Exactly what plain numpy scalars and dtypes need to unpickle: data, never code.

    Training scripts store `best_acc = np.float64(...)` beside the weights. numpy 2 pickles such
    a scalar as a call to `numpy._core.multiarray.scalar(dtype, raw_bytes)` (numpy 1 wrote
    `numpy.core.multiarray.scalar`), the dtype as a call to `numpy.dtype(...)`, and then sets the
    dtype's state, which the safe unpickler allows only for allow-listed types: hence the
    concrete dtype classes (`numpy.dtypes.Float64DType`, ...). The object and void dtypes are
    left out on purpose: an object scalar can wrap anything and a structured dtype can nest one.
    Arrays (`numpy._core.multiarray._reconstruct`) stay refused as well.
    """
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    scalar = core.multiarray.scalar
    dtype_classes = {type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDGSUMm"}
    return (
        scalar,
        (scalar, "numpy.core.multiarray.scalar"),
        (scalar, "numpy._core.multiarray.scalar"),
        np.dtype,
        *sorted(dtype_classes, key=lambda cls: cls.__name__),
    )


def load_torch_file(path: Path, *, trust_pickle: bool) -> LoadedFile:
    """`torch.load` with weights_only=True; weights_only=False only when trusted and needed.

    The pickle's CRC is checked first (it is kilobytes): a flipped bit there can still unpickle,
    into a wrong key or number, or look like a forbidden instruction. torch itself never checks
    the zip's CRCs, so damage in the tensor bytes goes unnoticed by it (and by us).
    """
    damage = pickle_damage(path)
    if damage is not None:
        raise CorruptCheckpointError(
            f"{path}: the file is damaged ({damage}): its bytes changed after torch.save wrote"
            " them; restore it from a good copy"
        )
    try:
        with _quiet_protocol_warning(), torch.serialization.safe_globals(numpy_safe_globals()):
            return LoadedFile(torch.load(path, map_location="cpu", weights_only=True))
    except pickle.UnpicklingError as exc:
        refused = exc
    except _UNREADABLE as exc:
        raise CorruptCheckpointError(_corrupt_message(path, exc)) from exc
    if not trust_pickle:
        with torch.serialization.safe_globals(numpy_safe_globals()):
            found = unsafe_globals(path)
        reason = _torch_reason(refused)
        if not found and not reason:
            raise CorruptCheckpointError(
                f"{path}: torch.load cannot read its pickle (an instruction no writer produces);"
                " the file is damaged or was not written by torch.save"
            ) from refused
        raise UnsafeCheckpointError(refusal_message(path, found, reason))
    try:
        with _quiet_protocol_warning():
            return LoadedFile(torch.load(path, map_location="cpu", weights_only=False), True)
    except (ModuleNotFoundError, AttributeError) as exc:
        raise BadInputError(
            f"{path}: the pickle refers to code that cannot be imported here ({exc}); run"
            " plateau-cli where the module that defined the model is importable (PYTHONPATH),"
            " or re-save the weights with torch.save(model.state_dict(), ...) and pass"
            " --model-factory"
        ) from exc
    except (*_UNREADABLE, pickle.UnpicklingError) as exc:
        raise CorruptCheckpointError(_corrupt_message(path, exc)) from exc


def pickle_damage(path: Path) -> str | None:
    """Why the archive's pickle is damaged (a CRC mismatch), or None when it reads intact.

    A flipped bit in data.pkl makes the safe unpickler meet an opcode or a global it does not
    allow, exactly as a hostile pickle does; the zip's CRC tells damage from intent.
    """
    import zipfile

    from plateau_cli.zips import DAMAGED_ZIP_ERRORS

    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name == "data.pkl" or name.endswith("/data.pkl"):
                    archive.read(name)  # checks the CRC
    except DAMAGED_ZIP_ERRORS as exc:
        return str(exc) or type(exc).__name__
    return None


def load_safetensors(path: Path) -> LoadedFile:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            metadata = dict(fh.metadata() or {})
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CorruptCheckpointError(
            f"{path}: a damaged or truncated safetensors file ({exc}); restore it from a good copy"
        ) from exc
    return LoadedFile(tensors, metadata=metadata)


def load_torchscript(path: Path, *, trust_pickle: bool) -> LoadedFile:
    """TorchScript archives are code: loaded only when the user said --trust-pickle.

    Their `code/` is compiled by torch.jit.load and the scripted methods run when the model is
    called; TorchScript can create and write files (`torch.from_file(..., shared=True)`), and a
    `.pth` file written into a site directory becomes Python that runs at the next start.
    """
    if not trust_pickle:
        raise UnsafeCheckpointError(torchscript_refusal(path))
    try:
        with quiet_jit_deprecation():
            return LoadedFile(torch.jit.load(str(path), map_location="cpu"))
    except (RuntimeError, ValueError, OSError) as exc:
        raise CorruptCheckpointError(
            f"{path}: a TorchScript archive torch.jit.load cannot open: {_first_line(exc)}"
        ) from exc


@contextlib.contextmanager
def quiet_jit_deprecation() -> Iterator[None]:
    """torch 2.9+ deprecates TorchScript; a user with a TorchScript file can do nothing about it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
        yield


def _corrupt_message(path: Path, exc: BaseException) -> str:
    text = _first_line(exc)
    if "magic number" in text.lower():
        return f"{path}: a pickle, but not one written by torch.save ({text})"
    return f"{path}: torch.load cannot read it ({type(exc).__name__}: {text}); is it truncated?"


def _torch_reason(exc: BaseException) -> str:
    """The WeightsUnpickler's own one-line reason inside torch's long message."""
    for line in str(exc).splitlines():
        if "WeightsUnpickler error:" in line:
            return line.split("WeightsUnpickler error:", 1)[1].strip().split(". ")[0]
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def _quiet_protocol_warning() -> Iterator[None]:
    """torch warns (an error under -W error) for pickles of protocol > 2 that it reads fine."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
        yield
