"""The preprocessing a Keras model does itself, before its first trainable layer.

Keras' own recipes keep the input scaling inside the model: `Rescaling(1/255)` or
`Rescaling(1/127.5, offset=-1)` in front of a CNN fed by `image_dataset_from_directory`
(0..255 floats), an adapted `Normalization` in front of tabular data, a `Lambda` wrapping an
application's `preprocess_input`. Data checks that look at the raw arrays would call those inputs
"unnormalised" and advise scaling them again, which would break the model. So the data checks
get the model's leading preprocessing as a numpy function and judge what the first trainable
layer sees.

Leading means: the layers from the model's single input onward, in a chain, that hold no
trainable weight and are Keras preprocessing layers (Rescaling, Normalization, Resizing, the
Random* augmentations, which are identities at inference) or a Lambda. The chain stops at the
first layer that is anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

_PREPROCESSING_MODULE = "keras.src.layers.preprocessing"


def leading_layers(model: Any) -> list[Any]:
    """The chain of preprocessing layers a single-input model starts with (maybe empty)."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return []
    if not inputs or len(inputs) != 1:
        return []
    chain: list[Any] = []
    previous = inputs[0]
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if not _is_preprocessing(layer) or layer.trainable_weights:
            break
        try:
            fed = layer.input
        except (AttributeError, ValueError):
            break
        if fed is not previous:
            break  # a branch, not a chain from the input
        chain.append(layer)
        previous = layer.output
    return chain


def _is_preprocessing(layer: Any) -> bool:
    module = type(layer).__module__
    return module.startswith(_PREPROCESSING_MODULE) or isinstance(layer, keras.layers.Lambda)


def describe_layers(layers: list[Any]) -> str | None:
    """`Rescaling(scale=0.00784, offset=-1)`, `Normalization(adapted)`, ... joined by ' -> '."""
    if not layers:
        return None
    return " -> ".join(_describe(layer) for layer in layers)


def _describe(layer: Any) -> str:
    if isinstance(layer, keras.layers.Rescaling):
        scale, offset = layer.scale, layer.offset
        return f"Rescaling(scale={_number(scale)}, offset={_number(offset)})"
    if isinstance(layer, keras.layers.Normalization):
        adapted = getattr(layer, "is_adapted", False) or layer.input_mean is not None
        return "Normalization(adapted)" if adapted else "Normalization"
    return type(layer).__name__


def _number(value: Any) -> str:
    array = np.asarray(value)
    return f"{float(array):.3g}" if array.size == 1 else "per-channel"


def standardises(layers: list[Any]) -> bool:
    """Whether the chain ends with a Normalization: whatever comes in leaves standardised."""
    return any(isinstance(layer, keras.layers.Normalization) for layer in layers)


def numpy_function(layers: list[Any]) -> Callable[[Any], Any] | None:
    """numpy in, numpy out through the chain (inference mode); None for an empty chain."""
    if not layers:
        return None

    def run(x: Any) -> Any:
        out = keras.ops.convert_to_tensor(np.asarray(x))
        for layer in layers:
            out = layer(out, training=False)
        return keras.ops.convert_to_numpy(out)

    return run
