"""What `inspect` shows of a Keras model, and what the data checks need to know (IOSpec).

Nested models (a pretrained base inside a Sequential or functional model) get one row for the
nested model itself, whose parameter counts say at a glance whether it is frozen (trainable 0),
followed by one row per inner layer named `base/conv1`, `base/bn1`, ... (recursively, so a base
inside a base reads `outer/inner/conv`). The slash is the nesting; a table can indent by it. A
layer frozen inside a trainable base therefore shows up on its own row, which is exactly the
case that is invisible in a one-row summary.

Counts follow Keras: `params` is every weight, `trainable_params` those the optimizer updates.
BatchNormalization's moving mean and variance are weights that never train; they count as
frozen, and a note says how many of the frozen parameters they are.
"""

from __future__ import annotations

from math import prod
from pathlib import Path
from typing import Any

import keras

from plateau_cli.adapters.base import IOSpec, LayerInfo, ModelDescription, OptimizerInfo
from plateau_cli.adapters.keras import preprocessing
from plateau_cli.adapters.keras.compiling import LOSS_TASKS, loss_name
from plateau_cli.data.base import Task


def count(weights: Any) -> int:
    return int(sum(prod(tuple(w.shape)) for w in weights))


def layer_rows(model: Any) -> tuple[LayerInfo, ...]:
    rows: list[LayerInfo] = []

    def visit(container: Any, prefix: str) -> None:
        for layer in container.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            rows.append(
                LayerInfo(
                    name=prefix + layer.name,
                    kind=type(layer).__name__,
                    output_shape=_output_shape(layer),
                    params=count(layer.weights),
                    trainable_params=count(layer.trainable_weights),
                )
            )
            if isinstance(layer, keras.Model):
                visit(layer, f"{prefix}{layer.name}/")

    visit(model, "")
    return tuple(rows)


def _output_shape(layer: Any) -> str | None:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError, RuntimeError):  # shared layer, never called, subclassed
        return None
    return _shape_text(shape)


def _shape_text(shape: Any) -> str:
    dims = ["None" if d is None else str(d) for d in tuple(shape)]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _shape(tensor: Any) -> tuple[int | None, ...]:
    return tuple(None if d is None else int(d) for d in tuple(tensor.shape))


def input_shape(model: Any) -> tuple[int | None, ...] | None:
    """With the batch axis (None), as Keras shows it; None for several inputs or unknown."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs or len(inputs) != 1:
        return None
    return _shape(inputs[0])


def output_shape(model: Any) -> tuple[int | None, ...] | None:
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    if not outputs or len(outputs) != 1:
        return None
    return _shape(outputs[0])


def _output_layer(model: Any) -> Any:
    layer = model.layers[-1] if getattr(model, "layers", None) else None
    while isinstance(layer, keras.Model) and layer.layers:
        layer = layer.layers[-1]
    return layer


def output_activation(model: Any) -> str | None:
    return _activation_of(_output_layer(model))


def _activation_of(layer: Any) -> str | None:
    if layer is None:
        return None
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    return str(name) if name else None


def takes_strings(model: Any) -> bool:
    """A single input of dtype string (text into TextVectorization, categories into
    StringLookup)."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return False
    return bool(inputs) and len(inputs) == 1 and str(inputs[0].dtype) == "string"


def io_spec(model: Any) -> IOSpec:
    shape_in = input_shape(model)
    shape_out = output_shape(model)
    units = shape_out[-1] if shape_out and len(shape_out) >= 2 else None
    task, sparse = _loss_task(getattr(model, "loss", None), units)
    leading = preprocessing.leading_layers(model)
    named_in = named_inputs(model)
    named_out = named_outputs(model)
    return IOSpec(
        input_shape=shape_in[1:] if shape_in else None,
        output_units=units,
        output_activation=output_activation(model),
        task=task,
        sparse_labels=sparse,
        channels_last=keras.config.image_data_format() == "channels_last",
        image_max=255.0,  # image_dataset_from_directory's 0..255 floats
        string_inputs=takes_strings(model),
        preprocess=preprocessing.numpy_function(leading),
        preprocessing=preprocessing.describe_layers(leading),
        inputs=(
            {name: _shape(tensor)[1:] for name, tensor in named_in.items()}
            if len(named_in) > 1
            else None
        ),
        outputs=_output_specs(model, named_out) if len(named_out) > 1 else None,
    )


def _loss_task(loss: Any, units: int | None) -> tuple[Task | None, bool]:
    task, sparse = LOSS_TASKS.get(loss_name(loss) or "", (None, True))
    if task is Task.BINARY and units not in (None, 1):
        task = None  # several sigmoid units: multi-label, which the checks do not model
    return task, sparse


def _named(struct: Any, flat: list[Any]) -> dict[str, Any]:
    """name -> tensor: a dict structure's keys (what `fit` matches dict data by), else the
    producing layer's name (what Keras matches a dict against a list structure by)."""
    if isinstance(struct, dict) and len(struct) == len(flat):
        return {str(key): struct[key] for key in struct}
    return {_layer_name(tensor): tensor for tensor in flat}


def _layer_name(tensor: Any) -> str:
    history = getattr(tensor, "_keras_history", None)
    operation = getattr(history, "operation", None)
    return str(getattr(operation, "name", None) or getattr(tensor, "name", "?"))


def named_inputs(model: Any) -> dict[str, Any]:
    """The model's inputs by name (empty when unknown, e.g. an unbuilt subclassed model)."""
    try:
        flat = list(model.inputs or [])
    except (AttributeError, ValueError):
        return {}
    return _named(getattr(model, "_inputs_struct", None), flat)


def named_outputs(model: Any) -> dict[str, Any]:
    """The model's outputs by name, in the names `compile(loss={...})` and the logs use."""
    try:
        flat = list(model.outputs or [])
    except (AttributeError, ValueError):
        return {}
    return _named(getattr(model, "_outputs_struct", None), flat)


def named_shapes(model: Any) -> dict[str, dict[str, list[int | None]]]:
    """`inputs`/`outputs`: name -> shape (batch first) for a model with several of them, which
    `input_shape`/`output_shape` cannot show; empty for a one-input, one-output model."""
    found: dict[str, dict[str, list[int | None]]] = {}
    for key, named in (("inputs", named_inputs(model)), ("outputs", named_outputs(model))):
        if len(named) > 1:
            found[key] = {name: list(_shape(tensor)) for name, tensor in named.items()}
    return found


def _output_specs(model: Any, named: dict[str, Any]) -> dict[str, IOSpec]:
    """One IOSpec per output: its units, its layer's activation, and the task of its own loss
    (a dict loss by name, a list by position, one loss for all)."""
    loss = getattr(model, "loss", None)
    specs: dict[str, IOSpec] = {}
    for index, (name, tensor) in enumerate(named.items()):
        if isinstance(loss, dict):
            own = loss.get(name)
        elif isinstance(loss, list | tuple):
            own = loss[index] if index < len(loss) else None
        else:
            own = loss
        shape = _shape(tensor)
        units = shape[-1] if len(shape) >= 2 else None
        task, sparse = _loss_task(own, units)
        layer = getattr(getattr(tensor, "_keras_history", None), "operation", None)
        specs[name] = IOSpec(
            input_shape=None,
            output_units=units,
            output_activation=_activation_of(layer),
            task=task,
            sparse_labels=sparse,
        )
    return specs


def metric_names(model: Any) -> tuple[str, ...]:
    config = model.get_compile_config() if getattr(model, "compiled", False) else None
    if not config:
        return ()
    names: list[str] = []

    def collect(entry: Any) -> None:
        if isinstance(entry, str):
            names.append(entry)
        elif isinstance(entry, list | tuple):
            for item in entry:
                collect(item)
        elif isinstance(entry, dict) and "class_name" in entry:
            inner = entry.get("config")
            name = inner.get("name") if isinstance(inner, dict) else inner
            names.append(str(name or entry["class_name"]))
        elif isinstance(entry, dict):
            for item in entry.values():
                collect(item)

    collect(config.get("metrics"))
    collect(config.get("weighted_metrics"))
    return tuple(dict.fromkeys(names))


def batchnorm_statistics(model: Any) -> int:
    total = 0
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            total += count([layer.moving_mean, layer.moving_variance])
    return total


def _all_layers(model: Any) -> list[Any]:
    found: list[Any] = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found += _all_layers(layer)
    return found


def description(
    model: Any,
    path: Path,
    fmt: str,
    optimizer: OptimizerInfo,
    notes: list[str],
    extra: dict[str, Any],
) -> ModelDescription:
    layers = layer_rows(model)
    frozen = count(model.non_trainable_weights)
    statistics = batchnorm_statistics(model)
    notes = list(notes)
    if any("/" in row.name for row in layers):
        notes.append(
            "a nested model is one row, then its layers, named 'model/layer' (the table"
            " indents them under the model)"
        )
    if takes_strings(model):
        notes.append(
            "the input takes strings (dtype string): give --data as text, e.g. an .npz of"
            " numpy strings, a CSV text column or a tf.data.Dataset of strings"
        )
    if statistics:
        notes.append(
            f"{statistics:,} of the {frozen:,} frozen parameters are BatchNormalization moving"
            " statistics, which never train"
        )
    return ModelDescription(
        framework="keras",
        format=fmt,
        path=path,
        layers=layers,
        trainable_params=count(model.trainable_weights),
        frozen_params=frozen,
        optimizer=optimizer,
        loss=loss_name(getattr(model, "loss", None)),
        metrics=metric_names(model),
        input_shape=input_shape(model),
        output_shape=output_shape(model),
        notes=tuple(notes),
        extra=extra,
    )
