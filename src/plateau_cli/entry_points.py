"""`module:callable` and `path/file.py:callable`: user code named on the command line.

Used by `--model-factory` and by `--data module:function`. Only what the user named is imported:
a dotted module through the normal import system, or a single file loaded by path under a private
module name (its directory is not added to sys.path for good, so nothing else in it is importable
by accident). Errors say which part failed: the module, the attribute, or the call.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from plateau_cli.errors import BadInputError, PlateauError, UsageError

_DOTTED = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


def looks_like_entry_point(text: str) -> bool:
    """True for `pkg.mod:fn` or `some/file.py:fn` (and not for a Windows drive like `C:\\x`)."""
    module, sep, attribute = text.rpartition(":")
    if not sep or not module or not attribute.isidentifier():
        return False
    return module.endswith(".py") or bool(_DOTTED.match(module))


def resolve(spec: str, what: str) -> Callable[..., Any]:
    """Import the callable named by `spec`; `what` names the option in messages."""
    if not looks_like_entry_point(spec):
        raise UsageError(
            f"{what} must be 'module:callable' or 'path/file.py:callable'. Received: {spec!r}"
        )
    module_part, _, attribute = spec.rpartition(":")
    module = _import_file(Path(module_part), what) if module_part.endswith(".py") else None
    if module is None:
        try:
            module = importlib.import_module(module_part)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name != module_part and not module_part.startswith(exc.name):
                raise BadInputError(
                    f"{what} {spec!r}: importing {module_part!r} failed: {_first_line(exc)}"
                    f"{_import_hint(exc)}"
                ) from exc
            raise BadInputError(
                f"{what} {spec!r}: cannot import module {module_part!r} ({exc}); is it installed"
                " or on PYTHONPATH? A file can be named as path/to/file.py:callable"
            ) from exc
        except Exception as exc:  # user code failed while importing: report it, do not crash
            raise BadInputError(
                f"{what} {spec!r}: importing {module_part!r} failed: {type(exc).__name__}:"
                f" {_first_line(exc)}{_import_hint(exc)}"
            ) from exc
    target = getattr(module, attribute, None)
    if target is None:
        available = sorted(n for n in vars(module) if not n.startswith("_"))[:8]
        raise BadInputError(
            f"{what} {spec!r}: {module_part!r} has no attribute {attribute!r}"
            f" (it has: {', '.join(available) or 'nothing public'})"
        )
    if not callable(target):
        raise BadInputError(f"{what} {spec!r}: {attribute!r} is not callable")
    return target


def call(spec: str, what: str, kwargs: Mapping[str, Any] | None = None) -> Any:
    """Resolve and call; an exception inside the user's function becomes one clear line.

    `sys.exit(3)`, a bare `SystemExit` or another BaseException from the user's code would end
    the process with that status (1 means "not improved" to CI) or a traceback: they become
    exit 2 naming the entry point. A KeyboardInterrupt is Ctrl-C (130) only when a SIGINT
    really arrived; raised by the code itself it is the code's failure like any other.
    """
    with _sigint_watch() as interrupted:
        try:
            target = resolve(spec, what)
        except PlateauError:
            raise
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt) and interrupted():
                raise
            raise BadInputError(_base_exception_message(what, spec, "importing it", exc)) from exc
        try:
            return target(**dict(kwargs or {}))
        except TypeError as exc:
            raise BadInputError(f"{what} {spec!r}: calling it failed: {exc}") from exc
        except Exception as exc:
            raise BadInputError(f"{what} {spec!r}: it raised {type(exc).__name__}: {exc}") from exc
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt) and interrupted():
                raise
            raise BadInputError(_base_exception_message(what, spec, "calling it", exc)) from exc


def _base_exception_message(what: str, spec: str, doing: str, exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        how = f"called sys.exit({exc.code!r})"
    else:
        how = f"raised {type(exc).__name__}" + (f": {exc}" if str(exc) else "")
    return (
        f"{what} {spec!r}: {doing}, the code {how} instead of returning; plateau-cli needs the"
        " function to return (or raise an ordinary exception saying what is wrong)"
    )


@contextlib.contextmanager
def _sigint_watch() -> Iterator[Callable[[], bool]]:
    """Record whether a real SIGINT arrives while user code runs (main thread only)."""
    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: True
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if previous is signal.SIG_IGN:
            return
        seen.append(signum)
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGINT, handler)
    except (ValueError, OSError):
        yield lambda: True
        return
    try:
        yield lambda: bool(seen)
    finally:
        signal.signal(signal.SIGINT, previous)


def _import_file(path: Path, what: str) -> Any:
    if not path.is_file():
        raise BadInputError(f"{what}: no such file {str(path)!r}")
    name = f"_plateau_user_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BadInputError(f"{what}: cannot load {str(path)!r} as Python")
    module = importlib.util.module_from_spec(spec)
    # The file may import its siblings (a models.py beside train.py): allow that for the
    # duration of its own import only.
    sys.path.insert(0, str(path.parent.resolve()))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise BadInputError(
            f"{what}: importing {str(path)!r} failed: {type(exc).__name__}: {_first_line(exc)}"
            f"{_import_hint(exc)}"
        ) from exc
    except BaseException:  # SystemExit and the like: `call` words them
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(str(path.parent.resolve()))
    return module


def import_modules(specs: tuple[str, ...] | list[str], what: str = "--import") -> list[Any]:
    """Import each `pkg.module` or `path/file.py` the user named, in order; the modules.

    A file is imported under its own stem (`models.py` -> `models`) unless that name is taken,
    so classes it defines are found by the name they were saved or pickled under (Keras'
    `registered_name`, a torch pickle's `models.MLP`). Importing is what registers
    `@keras.saving.register_keras_serializable` classes.
    """
    modules = []
    for spec in specs:
        if spec.endswith(".py"):
            modules.append(_import_named_file(Path(spec), what))
            continue
        if not _DOTTED.match(spec):
            raise UsageError(
                f"{what} takes a module (pkg.module) or a .py file. Received: {spec!r}"
            )
        try:
            modules.append(importlib.import_module(spec))
        except ModuleNotFoundError as exc:
            raise BadInputError(
                f"{what} {spec!r}: cannot import it ({exc}); is it installed or on PYTHONPATH?"
                " A file can be named as path/to/file.py"
            ) from exc
        except Exception as exc:  # user code failed while importing
            raise BadInputError(
                f"{what} {spec!r}: importing it failed: {type(exc).__name__}: {exc}"
            ) from exc
    return modules


def _import_named_file(path: Path, what: str) -> Any:
    if not path.is_file():
        raise BadInputError(f"{what}: no such file {str(path)!r}")
    stem = path.stem
    existing = sys.modules.get(stem)
    if existing is not None:
        if Path(getattr(existing, "__file__", "") or "").resolve() == path.resolve():
            return existing
        return _import_file(path, what)  # the name is taken: a private name instead
    if not stem.isidentifier():
        return _import_file(path, what)
    spec = importlib.util.spec_from_file_location(stem, path)
    if spec is None or spec.loader is None:
        raise BadInputError(f"{what}: cannot load {str(path)!r} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent.resolve()))
    sys.modules[stem] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[stem]
        raise BadInputError(
            f"{what}: importing {str(path)!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        sys.path.remove(str(path.parent.resolve()))
    return module


def defined_objects(modules: list[Any]) -> dict[str, Any]:
    """Classes and functions each module defines itself (not what it imported), by name."""
    found: dict[str, Any] = {}
    for module in modules:
        for name, value in vars(module).items():
            if name.startswith("_") or not (isinstance(value, type) or callable(value)):
                continue
            if getattr(value, "__module__", None) == module.__name__:
                found[name] = value
    return found


def parse_factory_args(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; values are Python literals (`hidden=64`, `dims=(8, 16)`), else strings."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(
                f"--factory-arg must be key=value with a Python name. Received: {pair!r}"
            )
        try:
            out[key] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            out[key] = raw.strip()
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _import_hint(exc: BaseException) -> str:
    """The fix for the usual import failure of model files: torchvision beside another torch.

    pytorch/examples import torchvision at the top; a torchvision wheel built for another torch
    fails to import (missing operators, an undefined symbol), or is absent."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    involved = (
        getattr(exc, "name", None) == "torchvision"
        or "torchvision" in str(exc)
        or any("torchvision" in frame.filename for frame in frames)
    )
    if not involved:
        return ""
    return (
        " (torchvision does not import beside this torch: install the torchvision build that"
        " matches your torch, from the same index, or import torchvision inside the function"
        " that needs it)"
    )
