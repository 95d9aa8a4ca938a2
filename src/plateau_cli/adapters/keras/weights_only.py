"""Weights-only Keras files, resumed with the code that builds the model (`--model-factory`).

`ModelCheckpoint(save_weights_only=True)` and `model.save_weights()` write a `.weights.h5`
with no architecture, no compile information and no optimizer state: only the user's code can
rebuild the model. As for PyTorch, `--model-factory file.py:build` names that code; the
weights are loaded into what it returns, the model is compiled as the factory did (or from
--loss/--optimizer/--lr when it did not), and the optimizer starts from zero, which the report
says. The output is a full `.keras`, so the next resume needs no factory.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import keras

from plateau_cli import entry_points
from plateau_cli.adapters.base import LoadOptions, OptimizerState
from plateau_cli.adapters.keras import optimizer as opt
from plateau_cli.adapters.keras.archive import FileFacts
from plateau_cli.adapters.keras.compiling import compile_fresh, replace_compile_choices
from plateau_cli.adapters.keras.loading import Loaded
from plateau_cli.errors import BadInputError

FACTORY_OPTION = "--model-factory"


def load(path: Path, fmt: str, options: LoadOptions) -> Loaded:
    factory = options.model_factory or ""
    model = entry_points.call(factory, FACTORY_OPTION, options.factory_args)
    if not isinstance(model, keras.Model):
        raise BadInputError(
            f"{FACTORY_OPTION} {factory!r} returned a {type(model).__name__}; it must return the"
            " keras.Model whose weights are in the file"
        )
    if not model.built:
        raise BadInputError(
            f"{FACTORY_OPTION} {factory!r} returned a model that is not built; give it an"
            " Input (keras.Input(shape)) or call model.build(input_shape) before returning it"
        )
    optimizer = getattr(model, "optimizer", None) if model.compiled else None
    if optimizer is not None and not optimizer.built:
        # Keras 3 `save_weights` stores the optimizer's variables too; a built optimizer
        # receives them (an unbuilt one has none and Keras skips them with a warning).
        optimizer.build(model.trainable_variables)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(path)
    except (ValueError, KeyError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BadInputError(
            f"{path}: its weights do not fit the model {factory!r} builds ({first}); the"
            " factory must build the same architecture that saved them"
        ) from exc
    notes = [f"weights from {path.name} loaded into the model built by {factory}"]
    skipped = any("Skipping variable loading for optimizer" in str(w.message) for w in caught)
    if not model.compiled:
        state, detail = compile_fresh(model, path, options)
        return Loaded(model, _facts(fmt, model), state, detail, tuple(notes))
    state, detail = OptimizerState.RESTORED, None
    if optimizer is None or skipped or int(optimizer.iterations) == 0:
        rate = opt.current_rate(model.optimizer)
        state = OptimizerState.ABSENT
        detail = (
            f"{path.name} holds no usable optimizer state: the"
            f" {type(model.optimizer).__name__} compiled by the factory (learning rate"
            f" {rate:g}) starts from zero"
        )
    state, detail, changed = replace_compile_choices(model, options, state, detail)
    notes += changed
    return Loaded(model, _facts(fmt, model), state, detail, tuple(notes))


def _facts(fmt: str, model: Any) -> FileFacts:
    optimizer = getattr(model, "optimizer", None)
    return FileFacts(
        format=fmt,
        keras_version=keras.version(),
        backend=None,
        date_saved=None,
        compiled=True,
        optimizer_class=type(optimizer).__name__ if optimizer is not None else None,
        optimizer_variables=None,
        iterations=None,
        code_objects=(),
    )
