"""Say what a refused pickle would run, without running it.

`torch.load(weights_only=True)` refuses any pickle that names a Python object beyond tensors
and plain containers. The user then has to decide about `--trust-pickle`, so the message names
the objects the file would import and call. `torch.serialization.get_unsafe_globals_in_checkpoint`
lists them by disassembling the pickle statically, but only for zip archives and only for the
opcodes of protocol 2; a hand-made pickle (protocol 4/5, `STACK_GLOBAL`) or a legacy
`torch.save` file goes through our own static scan with `pickletools`, which never executes
anything either.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickle
import pickletools
import zipfile
from pathlib import Path

import torch

from plateau_cli.zips import DAMAGED_ZIP_ERRORS

#: Modules whose functions can run commands or arbitrary code when a pickle calls them.
_DANGEROUS_MODULES = frozenset(
    {
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "pty",
        "socket",
        "shutil",
        "importlib",
        "runpy",
        "pickle",
        "_pickle",
        "marshal",
        "code",
        "ctypes",
        "webbrowser",
        "multiprocessing",
    }
)
_DANGEROUS_BUILTINS = frozenset(
    {"eval", "exec", "compile", "open", "getattr", "setattr", "__import__", "apply", "globals"}
)
_STRING_OPS = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "SHORT_BINSTRING"}
)
_MAX_LISTED = 6


def unsafe_globals(path: Path) -> list[str]:
    """Globals the safe loader does not allow, in the order they first appear."""
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except (ValueError, RuntimeError, pickle.UnpicklingError, EOFError, OSError, KeyError):
        found = None  # not a zip archive, or opcodes torch's static reader does not know
    if found is not None:
        return sorted(found)
    return [name for name in scan_globals(_pickle_bytes(path)) if not _allowed(name)]


def scan_globals(data: bytes) -> list[str]:
    """`module.name` for every GLOBAL/STACK_GLOBAL in the pickles in `data` (static only).

    A legacy torch.save file holds several pickles one after the other followed by raw storage
    bytes; the scan stops at the first thing that is not a pickle.
    """
    names: list[str] = []
    stream = io.BytesIO(data)
    while stream.tell() < len(data):
        start = stream.tell()
        strings: list[str] = []
        memo: dict[int, str] = {}
        try:
            for opcode, arg, _ in pickletools.genops(stream):
                if opcode.name == "GLOBAL" and isinstance(arg, str):
                    module, _, name = arg.partition(" ")
                    names.append(_python3_name(module, name))
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    names.append(_python3_name(strings[-2], strings[-1]))
                elif opcode.name in _STRING_OPS and isinstance(arg, str | bytes):
                    strings.append(arg if isinstance(arg, str) else arg.decode("latin-1"))
                elif opcode.name in {"BINPUT", "LONG_BINPUT", "PUT"} and strings:
                    memo[int(arg)] = strings[-1]
                elif opcode.name == "MEMOIZE" and strings:
                    memo[len(memo)] = strings[-1]
                elif opcode.name in {"BINGET", "LONG_BINGET", "GET"} and int(arg) in memo:
                    strings.append(memo[int(arg)])
        except (ValueError, EOFError, UnicodeDecodeError):
            break
        if stream.tell() == start:
            break
    return list(dict.fromkeys(names))


def _python3_name(module: str, name: str) -> str:
    """Protocol-2 pickles spell builtins `__builtin__`; unpickling maps them as pickle does."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return f"{module}.{name}"


def refusal_message(path: Path, found: list[str], reason: str | None) -> str:
    """One line: what the file names, what --trust-pickle would risk, what to do instead."""
    if found:
        listed = ", ".join(found[:_MAX_LISTED])
        more = f" (+{len(found) - _MAX_LISTED} more)" if len(found) > _MAX_LISTED else ""
        what = f"it names Python objects beyond tensors and plain data: {listed}{more}"
    else:
        what = f"its pickle uses instructions the safe loader does not allow ({reason})"
    danger = [name for name in found if is_dangerous(name)]
    if danger:
        risk = (
            f"; {', '.join(danger[:3])} can run any command or code on this machine, so do NOT"
            " use --trust-pickle on this file unless you made it yourself"
        )
    else:
        risk = (
            "; --trust-pickle would import those modules and run the code the file names, with"
            " your user's permissions: use it only for files you made or trust, or better,"
            " re-save the weights with torch.save(model.state_dict(), ...) and pass"
            " --model-factory"
        )
    return f"{path}: refused by the safe loader (torch.load with weights_only=True): {what}{risk}"


def is_dangerous(name: str) -> bool:
    module, _, attribute = name.rpartition(".")
    if module.split(".")[0] in _DANGEROUS_MODULES:
        return True
    return module in {"builtins", "__builtin__", ""} and attribute in _DANGEROUS_BUILTINS


def _pickle_bytes(path: Path) -> bytes:
    """The pickle of a zip archive (`*/data.pkl`), or the whole file for the legacy format."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    if name == "data.pkl" or name.endswith("/data.pkl"):
                        return archive.read(name)
            return b""
        return path.read_bytes()
    except DAMAGED_ZIP_ERRORS:
        return b""


def _allowed(name: str) -> bool:
    """Whether torch's own allow-list (or one added by the caller) covers `name`."""
    try:
        from torch import _weights_only_unpickler as wou

        allowed = set(wou._get_allowed_globals()) | set(wou._get_user_allowed_globals())
    except (ImportError, AttributeError):  # a private API: fall back to torch's own types
        return name.startswith("torch.") or name in {"collections.OrderedDict", "_codecs.encode"}
    return name in allowed
