"""Keras' failures on bad checkpoint files, turned into plateau-cli errors with one clear line.

Keras reports a file it cannot rebuild with a TypeError or ValueError whose text is a page long
(the whole model config is in it) and whose real cause sits at the bottom of a chain of
"could not be deserialized properly" wrappers. This module walks that chain to the most
specific cause and words the message around what the user can do: the Keras version that wrote
the file decides between "re-save it with the Keras 2 that wrote it", "upgrade Keras", and
"the model needs code plateau-cli does not have" (a custom class).

Only failures recognised as coming from the file are translated. Anything else is re-raised
unchanged, so a bug in plateau-cli or Keras still shows its traceback.
"""

from __future__ import annotations

import contextlib
import errno
import zipfile
from collections.abc import Iterator
from pathlib import Path

from plateau_cli.adapters.keras.archive import FileFacts
from plateau_cli.adapters.keras.runtime import installed_keras_version, parse_version
from plateau_cli.errors import (
    BadInputError,
    CorruptCheckpointError,
    PlateauError,
    UnsafeCheckpointError,
)
from plateau_cli.keras_config_scan import blocked_message

#: Text of errors Keras raises when a config names a class or function it does not know.
_UNKNOWN = (
    "unknown layer",
    "unknown object",
    "could not locate",
    "could not interpret",
    "unknown optimizer",
    "unknown loss",
    "unknown metric",
    "unable to reconstruct",
)
#: Text of errors raised when a config's contents do not fit the classes it names.
_CONFIG = (
    "could not be deserialized",
    "unrecognized keyword argument",
    "argument(s) not recognized",
    "unexpected keyword argument",
    "required positional argument",
    "is incompatible with the layer",
    "no model config found",
    "unknown `config`",  # a config entry whose keys were damaged ("cqass_name")
    "error when deserializing",
)
#: Text of errors raised when the stored weights do not fit the architecture.
_WEIGHTS = (
    "could not be loaded",
    "variables, but received",
    "variables whereas",
    "not compatible with provided weight shape",
    "layer count mismatch",
    "you are loading a weight file containing",
    "expected a model.weights.h5",
)
_UNSAFE = ("requested the deserialization of a", "safe_mode=false")
#: Keras appends generic advice after the cause; the one-line message keeps only the cause.
_ADVICE = (". Please ", ". Make sure", ". If you trust", ". See https://", ". This carries")
_CHAIN_LIMIT = 32
#: What h5py raises on damaged HDF5 data, besides OSError (see `reading_hdf5`).
_H5PY_ERRORS: tuple[type[Exception], ...] = (RuntimeError, KeyError, ValueError, TypeError)


def unsafe_message(path: Path, owners: tuple[str, ...] | list[str]) -> str:
    who = ", ".join(owners) if owners else "an object in the model configuration"
    return (
        f"{path}: {who} holds Python bytecode, which runs when the model is loaded; Keras'"
        " safe mode refuses it. If you trust where the file came from, pass --trust-pickle"
        " (it lets Keras deserialise and run that code)"
    )


def _safe_mode_refusal(path: Path, texts: list[str], facts: FileFacts) -> PlateauError | None:
    """Keras' own safe-mode refusals, each worded for what the file actually asks for."""
    for text in texts:
        lowered = text.lower()
        if "non-modeling apis are disallowed" in lowered:
            api = text.split("`")[1] if text.count("`") >= 2 else "a non-modeling Keras API"
            return UnsafeCheckpointError(blocked_message(path, [f"the configuration names {api}"]))
        if "vocabulary file outside of the model archive" in lowered:
            where = (
                text.rsplit("Vocabulary file:", 1)[-1].strip(" .'\"")
                if "Vocabulary file:" in text
                else "a path"
            )
            return UnsafeCheckpointError(
                f"{path}: a StringLookup/TextVectorization layer reads its vocabulary from a file"
                f" outside the archive ({where}); Keras' safe mode refuses to read files the"
                " archive does not hold. If you trust where the file came from and that path is"
                " meant to be read, pass --trust-pickle"
            )
        if "deserialization of a `tfsmlayer`" in lowered:
            return UnsafeCheckpointError(
                f"{path}: the model holds a TFSMLayer, which loads an external TensorFlow"
                " SavedModel (a program of its own) when the model is loaded; Keras' safe mode"
                " refuses it. If you trust where the file and that SavedModel came from, pass"
                " --trust-pickle"
            )
    if any(marker in text.lower() for text in texts for marker in _UNSAFE):
        if facts.code_objects:
            return UnsafeCheckpointError(unsafe_message(path, facts.code_objects))
        return UnsafeCheckpointError(
            f"{path}: Keras' safe mode refuses to load it: {_trim(texts[-1] if texts else '')};"
            " if you trust where the file came from, pass --trust-pickle"
        )
    return None


@contextlib.contextmanager
def translating(path: Path, facts: FileFacts) -> Iterator[None]:
    """Run a Keras load; known failures caused by the file become PlateauErrors."""
    try:
        yield
    except PlateauError:
        raise
    except (zipfile.BadZipFile, EOFError) as exc:
        raise CorruptCheckpointError(
            f"{path}: a damaged or truncated archive ({first_line(exc)}); restore it from a"
            " good copy"
        ) from exc
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise BadInputError(f"{path}: cannot read it: permission denied") from exc
        if exc.errno == errno.ENOENT:
            raise BadInputError(f"{path}: no such file or directory") from exc
        if exc.errno not in (None, 0, errno.EIO):
            raise
        raise CorruptCheckpointError(
            f"{path}: cannot read the HDF5 data ({first_line(exc)}); the file is damaged or"
            " truncated: restore it from a good copy"
        ) from exc
    except (*_H5PY_ERRORS, AttributeError, NotImplementedError) as exc:
        if raised_by_h5py(exc):
            raise CorruptCheckpointError(_hdf5_message(path, exc)) from exc
        error = None if isinstance(exc, RuntimeError) else translate(exc, path, facts)
        if error is None:
            raise
        raise error from exc


@contextlib.contextmanager
def reading_hdf5(path: Path) -> Iterator[None]:
    """HDF5 reports a damaged file as RuntimeError, KeyError or ValueError ("Unable to
    synchronously open object (bad object header version number)", "Insufficient precision in
    available types"), not OSError: found by fuzzing .h5 files."""
    try:
        yield
    except _H5PY_ERRORS as exc:
        if not raised_by_h5py(exc):
            raise
        raise CorruptCheckpointError(_hdf5_message(path, exc)) from exc


def _hdf5_message(path: Path, exc: BaseException) -> str:
    return (
        f"{path}: cannot read the HDF5 data ({first_line(exc).strip(chr(39))}); the file is"
        " damaged or truncated: restore it from a good copy"
    )


def raised_by_h5py(exc: BaseException) -> bool:
    """Whether the innermost frame of the exception's traceback is h5py's (reading the file)."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return str(tb.tb_frame.f_globals.get("__name__", "")).split(".")[0] == "h5py"


def translate(exc: BaseException, path: Path, facts: FileFacts) -> PlateauError | None:
    """The PlateauError for a failure caused by the file, or None for one that is not."""
    chain = _chain(exc)
    refusal = _safe_mode_refusal(path, [first_line(e) for e in chain], facts)
    if refusal is not None:
        return refusal
    texts = [first_line(e).lower() for e in chain]
    detail = _cause(chain)
    written = parse_version(facts.keras_version)
    installed = installed_keras_version()
    older = written is not None and written[0] < 3
    newer = written is not None and written > (parse_version(installed) or (0,))
    if any(marker in text for text in texts for marker in _WEIGHTS):
        return CorruptCheckpointError(
            f"{path}: the stored weights do not fit the model's architecture ({detail});"
            " the file is damaged, or was assembled from parts of different models"
        )
    unknown = any(marker in text for text in texts for marker in _UNKNOWN)
    inconsistent = any(marker in text for text in texts for marker in _CONFIG)
    deserialise = unknown or inconsistent
    if older and (deserialise or isinstance(exc, TypeError | ValueError | KeyError)):
        return CorruptCheckpointError(
            f"{path}: written by Keras {facts.keras_version} (Keras 2 / tf.keras), and Keras"
            f" {installed} cannot rebuild it: {detail}. Re-save it as .keras with the Keras that"
            f" wrote it (e.g. tensorflow<=2.15: load_model('{path.name}').save('model.keras')),"
            f" or build the model in Keras 3 code and load the weights with"
            f" model.load_weights('{path.name}')"
        )
    if newer and (deserialise or isinstance(exc, TypeError | ValueError | KeyError)):
        return CorruptCheckpointError(
            f"{path}: written by Keras {facts.keras_version}, newer than the installed Keras"
            f" {installed}, which cannot read it: {detail}. Install a matching Keras (pip install"
            f" 'keras>={facts.keras_version}') or re-save the model as .keras with Keras"
            f" {installed}"
        )
    wrote = f"Keras {facts.keras_version}" if facts.keras_version else "an unknown Keras"
    if isinstance(exc, KeyError) and not deserialise:
        # Keras looked up a weight or group the configuration implies and the file lacks it.
        return CorruptCheckpointError(
            f"{path}: the file lacks an entry its own configuration needs ({detail}); the file"
            " is damaged or was assembled from parts of different models"
        )
    if unknown:
        return CorruptCheckpointError(
            f"{path}: Keras {installed} cannot rebuild this model (written by {wrote}): {detail}."
            " It uses a class or function that is not part of Keras (a custom layer, loss,"
            " subclassed model); name the code that defines it: --import my_layers.py (or"
            " --import pkg.module)"
        )
    if inconsistent or _raised_reading_config(exc):
        return CorruptCheckpointError(
            f"{path}: Keras {installed} cannot rebuild this model (written by {wrote}): {detail};"
            " its configuration does not fit together: the file is damaged or was edited"
        )
    return None


#: Keras' modules that turn a file's stored configuration into objects: a TypeError, KeyError
#: or ValueError raised inside them is a configuration of the wrong shape (a string where a
#: dict belongs), i.e. the file, not a bug of ours.
_CONFIG_READERS = ("keras.src.legacy.saving.", "keras.src.saving.")


def _raised_reading_config(exc: BaseException) -> bool:
    if not isinstance(exc, TypeError | KeyError | ValueError):
        return False
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_CONFIG_READERS)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and those it was raised from or during, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < _CHAIN_LIMIT:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _cause(chain: list[BaseException]) -> str:
    """The most specific line: the innermost error that is not a generic wrapper."""
    for error in reversed(chain):
        text = first_line(error)
        if "could not be deserialized properly" not in text and text:
            return _trim(text)
    return _trim(first_line(chain[0]))


def _trim(text: str) -> str:
    for marker in _ADVICE:
        index = text.find(marker)
        if index > 0:
            text = text[:index]
    text = text.strip().rstrip(".")
    return text if len(text) <= 300 else text[:297] + "..."


def first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    line = lines[0].strip()
    if line.endswith(":") and len(lines) > 1:  # "... Example error message for object X:"
        line = f"{line} {lines[1].strip()}"
    if isinstance(exc, KeyError) and line.startswith("'") and line.endswith("'"):
        return f"missing entry {line}"
    return line
