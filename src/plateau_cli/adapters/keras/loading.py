"""Open a `.keras` or legacy `.h5` checkpoint safely and say what became of its optimizer state.

What Keras 3.15 does, measured, and what this module does about it:

- `load_model(..., safe_mode=True)` refuses Lambda layers holding bytecode with a ValueError
  that names no layer. The archive is scanned first (`archive.read_facts`), so the refusal names
  the layers and what `--trust-pickle` would allow.
- When the optimizer's variable count differs from the saved one, Keras calls
  `warnings.warn("Skipping variable loading for optimizer 'adam', because it has N variables
  whereas the saved optimizer has M variables.", stacklevel=2)` (a UserWarning attributed to
  keras/src/saving/saving_lib.py) and leaves the optimizer at zero. That happens both when the
  trainable set changed before saving (real state lost: SKIPPED) and when the model was saved
  right after compile() (the file holds only `iteration` and `learning_rate`: ABSENT). The
  warning is captured and the two cases are told apart by the stored step count.
- Legacy `.h5`: Keras builds the optimizer over `model._trainable_variables`, which is empty for
  Sequential and functional models, then `set_weights` zips the saved values onto that short
  list: only `iterations` and the rate are assigned, the moments are dropped without a word,
  and the next `fit` fails with "Unknown variable ... This optimizer can only be called for the
  variables it was originally built with". So for `.h5` a fresh optimizer of the same class is
  built over the trainable variables, the saved values are assigned when they line up, and the
  model is recompiled with it. Keras-2 files store another layout (no `learning_rate`, all `m`
  then all `v`): reported SKIPPED, with the reason. Keras logs its own failures there through
  absl (`logging.warning`), which is captured too.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np

from plateau_cli.adapters.base import LoadOptions, OptimizerState
from plateau_cli.adapters.keras import keras2, schedules
from plateau_cli.adapters.keras import optimizer as opt
from plateau_cli.adapters.keras.archive import FileFacts, read_facts
from plateau_cli.adapters.keras.compiling import (
    compile_fresh,
    repair_legacy_metrics,
    replace_compile_choices,
)
from plateau_cli.adapters.keras.translate import (
    blocked_message,
    reading_hdf5,
    translating,
    unsafe_message,
)
from plateau_cli.adapters.sniff import KERAS_V3
from plateau_cli.entry_points import defined_objects, import_modules
from plateau_cli.errors import CorruptCheckpointError, UnsafeCheckpointError

SKIP_PATTERN = re.compile(
    r"Skipping variable loading for optimizer '(?P<name>[^']*)', because it has (?P<now>\d+)"
    r" variables whereas the saved optimizer has (?P<saved>\d+) variables"
)
#: Messages Keras emits while loading that say nothing the user needs (or that we handle).
_NOISE = (
    "Skipping variable loading for optimizer",
    "compiled metrics have yet to be built",
    "No training configuration found",
    "Error in loading the saved optimizer state",
    "Error when creating the weights of optimizer",
    "__array__ implementation doesn't accept a copy keyword",
)


@dataclass(frozen=True)
class Loaded:
    model: Any
    facts: FileFacts
    state: OptimizerState
    detail: str | None
    notes: tuple[str, ...]
    #: Facts for the description's `extra` that only the loader knows (a backup's epoch).
    extra: Mapping[str, Any] = field(default_factory=dict)


def load(path: Path, fmt: str, options: LoadOptions) -> Loaded:
    """Build the model with its compile state; raise PlateauErrors for files that cannot load."""
    with reading_hdf5(path):
        facts = read_facts(path, fmt)
    if facts.blocked_calls:
        raise UnsafeCheckpointError(blocked_message(path, facts.blocked_calls))
    if facts.code_objects and not options.trust_pickle:
        raise UnsafeCheckpointError(unsafe_message(path, facts.code_objects))
    state, detail = OptimizerState.ABSENT, None
    with (
        _keras_named(path, fmt) as keras_path,
        _captured() as captured,
        saved_policy(facts.dtype_policy),
    ):
        with translating(path, facts):
            model = keras.models.load_model(
                keras_path,
                compile=facts.compiled,
                safe_mode=not options.trust_pickle,
                custom_objects=custom_objects(options.imports),
            )
        h5_notes: list[str] = []
        if facts.compiled and fmt != KERAS_V3:
            with translating(path, facts):  # it reads the HDF5 file again
                state, detail, h5_notes = _repair_h5_optimizer(model, path, facts)
        elif facts.compiled:
            state, detail = _v3_state(model, facts, captured.messages())
        messages = captured.messages()
    notes = [_one_line(m) for m in dict.fromkeys(messages) if m and not any(n in m for n in _NOISE)]
    notes += h5_notes
    if not facts.compiled:
        state, detail = compile_fresh(model, path, options)
    else:
        state, detail, changed = replace_compile_choices(model, options, state, detail)
        notes += changed
    finding = schedules.replace_finished(model) if options.lr is None else None
    if finding is not None:
        detail = "; ".join(part for part in (detail, finding) if part)
    return Loaded(model, facts, state, detail, tuple(notes))


@contextlib.contextmanager
def saved_policy(name: str | None) -> Iterator[None]:
    """Load under the dtype policy the model was saved with, as its training script set it:
    under `mixed_float16` Keras compiles the optimizer inside a LossScaleOptimizer, whose
    variables (loss scale, the inner optimizer's step count and moments) then line up with the
    file's; under float32 the plain optimizer has fewer and Keras drops the state."""
    if name is None:
        yield
        return
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def custom_objects(imports: tuple[str, ...]) -> dict[str, Any] | None:
    """What `--import` modules define that Keras cannot find on its own: classes and functions
    not registered with `register_keras_serializable` (those registered need only the import).
    """
    if not imports:
        return None
    modules = import_modules(imports)  # already imported: the cached modules
    registered = set(keras.saving.get_custom_objects().values())
    found = {n: v for n, v in defined_objects(modules).items() if v not in registered}
    return found or None


def _one_line(message: str) -> str:
    line = message.strip().splitlines()[0]
    return line if len(line) <= 200 else line[:197] + "..."


def _v3_state(
    model: Any, facts: FileFacts, messages: list[str]
) -> tuple[OptimizerState, str | None]:
    optimizer = model.optimizer
    name = type(optimizer).__name__
    skipped = next((m for m in map(SKIP_PATTERN.search, messages) if m), None)
    if skipped is not None:
        if not facts.iterations:
            return OptimizerState.ABSENT, (
                f"the file holds no {name} state: the model was saved before its first training"
                " step, so the optimizer starts from zero"
            )
        if skipped["now"] == "0":
            return OptimizerState.SKIPPED, (
                f"Keras could not use the saved {name} state ({skipped['saved']} variables after"
                f" {facts.iterations} steps): the model was not built when it was saved, so the"
                " optimizer had no variables to load into and starts from zero"
            )
        return OptimizerState.SKIPPED, (
            f"Keras could not use the saved {name} state ({skipped['saved']} variables after"
            f" {facts.iterations} steps; this model's optimizer has {skipped['now']}): the set of"
            " trainable weights changed between the last training step and saving (layers"
            " frozen or unfrozen), so the optimizer starts from zero (moments and step count)"
        )
    if facts.optimizer_variables is None:
        return OptimizerState.ABSENT, f"the file holds no {name} state; it starts from zero"
    now = int(keras.ops.convert_to_numpy(optimizer.iterations))
    if facts.iterations is not None and now != facts.iterations:
        return OptimizerState.SKIPPED, (
            f"the optimizer's step count is {now} after loading but {facts.iterations} in the"
            " file: Keras did not restore its state"
        )
    if now == 0:
        return OptimizerState.ABSENT, (
            f"the saved {name} never took a step (iterations 0): there is no state to continue"
        )
    return OptimizerState.RESTORED, None


def _repair_h5_optimizer(
    model: Any, path: Path, facts: FileFacts
) -> tuple[OptimizerState, str | None, list[str]]:
    """Rebuild a legacy-.h5 optimizer over the real trainable variables (see module doc), with
    the hyper-parameters the file's training_config holds (see keras2)."""
    loaded = model.optimizer
    name = type(loaded).__name__
    config, notes = loaded.get_config(), []
    saved = keras2.saved_optimizer_config(path)
    if saved is not None and keras2.saved_class_name(path) == name:
        config, changed = keras2.merged_config(config, saved)
        if changed:
            shown = ", ".join(f"{key} {_shown(config[key])}" for key in changed)
            notes.append(
                f"{name} {shown} read from the file's training_config (Keras 3 alone would"
                f" compile {', '.join(f'{k} {_shown(loaded.get_config()[k])}' for k in changed)})"
            )
    fresh = type(loaded).from_config(config)
    arguments = opt.compile_arguments(model)
    metrics = {
        key: repair_legacy_metrics(arguments.get(key)) for key in ("metrics", "weighted_metrics")
    }
    stored = _h5_optimizer_values(path)
    if stored is None:
        opt.recompile_with(model, fresh, **metrics)
        return OptimizerState.ABSENT, f"the file holds no {name} state; it starts from zero", notes
    names, values = stored
    fresh.build(model.trainable_variables)
    restored = opt.assign_values(fresh, values) or keras2.keras2_layout(
        names, values, fresh.variables
    )
    opt.recompile_with(model, fresh, **metrics)
    if not restored:
        wrote = facts.keras_version or "an unknown version"
        why = (
            f"Keras {wrote} stores optimizer state in another layout"
            if (facts.keras_version or "3").split(".")[0] != "3"
            else "the set of trainable weights changed before saving"
        )
        return (
            OptimizerState.SKIPPED,
            (
                f"the saved {name} state ({len(values)} variables) does not fit this model's"
                f" optimizer ({len(fresh.variables)} variables): {why}; it starts from zero"
            ),
            notes,
        )
    if int(keras.ops.convert_to_numpy(fresh.iterations)) == 0:
        return (
            OptimizerState.ABSENT,
            f"the saved {name} never took a step (iterations 0): there is no state to continue",
            notes,
        )
    return OptimizerState.RESTORED, None, notes


def _shown(value: Any) -> str:
    return f"{opt.tidy(value):g}" if isinstance(value, float) else str(value)


def _h5_optimizer_values(path: Path) -> tuple[list[str], list[np.ndarray]] | None:
    with h5py.File(path, "r") as handle:
        group = handle.get("optimizer_weights")
        if not isinstance(group, h5py.Group):
            return None
        stored = group.attrs.get("weight_names", [])
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in stored]
        missing = [name for name in names if not isinstance(group.get(name), h5py.Dataset)]
        if missing:
            raise CorruptCheckpointError(
                f"{path}: the optimizer state lists {missing[0]!r} but the file does not hold it;"
                " the file is damaged"
            )
        return names, [np.asarray(group[name][()]) for name in names]


@contextlib.contextmanager
def _keras_named(path: Path, fmt: str) -> Iterator[Path]:
    """Keras picks its reader by extension; give it one that matches the sniffed content."""
    suffix = ".keras" if fmt == KERAS_V3 else ".h5"
    if path.suffix == suffix or (suffix == ".h5" and path.suffix == ".hdf5"):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="plateau-keras-") as directory:
        alias = Path(directory) / f"model{suffix}"
        try:
            alias.symlink_to(path.resolve())
        except OSError:
            shutil.copyfile(path, alias)
        yield alias


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


@dataclass
class _Captured:
    logged: list[str]
    warned: list[warnings.WarningMessage]

    def messages(self) -> list[str]:
        return [*self.logged, *(str(w.message).strip() for w in self.warned)]


@contextlib.contextmanager
def _captured() -> Iterator[_Captured]:
    """Collect what Keras warns or logs while loading, instead of letting it scroll past."""
    logged: list[str] = []
    logger = logging.getLogger("absl")
    handler = _Collect(logged)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            yield _Captured(logged, warned)
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
