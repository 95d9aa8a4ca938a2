"""Keras model configurations that name functions no model needs, found without Keras.

A `.keras` archive's config.json names every function it will call. Reading it here, with no
framework imported, lets the refusal come first, before the data or the model is looked at
(`run.preflight`), and lets the loader make the same refusal (`adapters.keras.archive`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Keras modules none of whose functions is a model operation: they read, write or download
#: files, draw, build whole models or change Keras' own settings (safe mode among them).
_NON_MODELING_MODULES = (
    "keras.applications",
    "keras.callbacks",
    "keras.config",
    "keras.datasets",
    "keras.export",
    "keras.models",
    "keras.preprocessing",
    "keras.saving",
    "keras.visualization",
)
#: keras.utils mixes helpers a model may use with file and network I/O: only the latter.
_NON_MODELING_UTILS = frozenset(
    {
        "get_file",
        "plot_model",
        "model_to_dot",
        "load_img",
        "save_img",
        "img_to_array",
        "array_to_img",
        "image_dataset_from_directory",
        "text_dataset_from_directory",
        "audio_dataset_from_directory",
        "timeseries_dataset_from_array",
        "register_keras_serializable",
        "serialize_keras_object",
        "deserialize_keras_object",
        "clear_session",
        "set_random_seed",
    }
)


def blocked_calls(config: Any) -> list[str]:
    """Keras APIs the config names as functions that no model needs, with who names them.

    A config names a function as `{"class_name": "function", "module": ..., "config": name}`
    (a Lambda's `function`, an activation, a loss). Keras 3.11+ refuses some of them itself
    (CVE-2025-8747 fetched files with `keras.utils.get_file`, CVE-2025-9906 turned safe mode off
    with `keras.config.enable_unsafe_deserialization`), but only by a list, and lets others
    through (`keras.visualization.plot_image_gallery`): a file that names any of these is
    refused before Keras reads it, whatever the flags.
    """
    found: list[str] = []

    def visit(node: Any, owner: str) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item, owner)
            return
        if not isinstance(node, dict):
            return
        cls = node.get("class_name")
        module, name = node.get("module"), node.get("config")
        if cls == "function" and isinstance(module, str) and isinstance(name, str):
            api = f"{module}.{name}"
            if _non_modeling(module, name):
                found.append(f"{owner} calls {api}")
            return
        inner = node.get("config") if isinstance(node.get("config"), dict) else {}
        if isinstance(cls, str) and inner.get("name"):
            owner = owner_name(cls, inner, owner)
        for value in node.values():
            visit(value, owner)

    visit(config, "the model configuration")
    return list(dict.fromkeys(found))


def _non_modeling(module: str, name: str) -> bool:
    module = module.replace("keras.src.", "keras.")
    if module == "keras.backend":
        return name == "clear_session"
    if module == "keras.utils" or module.startswith("keras.utils."):
        return name in _NON_MODELING_UTILS
    return any(module == m or module.startswith(m + ".") for m in _NON_MODELING_MODULES)


def owner_name(cls: Any, inner: dict[str, Any], default: str) -> str:
    name = inner.get("name")
    if not name:
        return default
    return f"Lambda layer '{name}'" if cls == "Lambda" else f"{cls} '{name}'"


def blocked_message(path: Path, calls: tuple[str, ...] | list[str]) -> str:
    """A config naming Keras APIs that are not model parts: refused whatever the flags."""
    listed = "; ".join(calls[:3]) + (f" (+{len(calls) - 3} more)" if len(calls) > 3 else "")
    return (
        f"{path}: the model configuration asks Keras to run functions that are not part of a"
        f" model ({listed}): they download, read or write files or switch off Keras' safe"
        " mode, which no trained model needs; the file was crafted or damaged, and plateau-cli"
        " does not load it (not even with --trust-pickle)"
    )
