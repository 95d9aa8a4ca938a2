"""Keras `.keras` files whose config asks Keras to call something it blocks or cannot rebuild.

Each payload starts from a real, clean archive (a tiny Dense model) and edits config.json only,
the way an attacker would: no bytecode, just names. Keras 3.11+ refuses the first three in safe
mode (CVE-2025-8747 used `keras.utils.get_file` as a Lambda's function to fetch a file during
loading; CVE-2025-9906 called `keras.config.enable_unsafe_deserialization` to switch safe mode
off); the last two are legitimate layers that point at files outside the archive.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def clean_archive() -> bytes:
    """A compiled two-layer model saved as .keras, as bytes."""
    import keras

    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.Dense(3)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clean.keras"
        model.save(path)
        return path.read_bytes()


def _function(module: str, name: str) -> dict[str, Any]:
    return {
        "module": module,
        "class_name": "function",
        "config": name,
        "registered_name": "function",
    }


def _lambda(name: str, function: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "module": "keras.layers",
        "class_name": "Lambda",
        "config": {
            "name": name,
            "trainable": True,
            "dtype": "float32",
            "function": function,
            "arguments": arguments,
        },
        "registered_name": None,
    }


def get_file_lambda(marker: Path) -> dict[str, Any]:
    """CVE-2025-8747: a Lambda whose function is keras.utils.get_file (fetches `origin`)."""
    return _lambda(
        "fetch",
        _function("keras.utils", "get_file"),
        {"fname": str(marker), "origin": f"file://{marker}.src", "cache_dir": str(marker.parent)},
    )


def enable_unsafe_lambda(marker: Path) -> dict[str, Any]:
    """CVE-2025-9906: a Lambda that switches Keras' safe mode off while the model loads."""
    del marker
    return _lambda("unlock", _function("keras.config", "enable_unsafe_deserialization"), {})


def plot_gallery_lambda(marker: Path) -> dict[str, Any]:
    """A Lambda calling keras.visualization.plot_image_gallery, which writes an image file."""
    return _lambda(
        "gallery",
        _function("keras.visualization", "plot_image_gallery"),
        {"path": str(marker)},
    )


def string_lookup(marker: Path) -> dict[str, Any]:
    """A StringLookup layer whose vocabulary is a file path (outside the archive)."""
    return {
        "module": "keras.layers",
        "class_name": "StringLookup",
        "config": {"name": "lookup", "vocabulary": str(marker), "dtype": "int64"},
        "registered_name": None,
    }


def tfsm_layer(marker: Path) -> dict[str, Any]:
    """A TFSMLayer: a TensorFlow SavedModel directory named by path, loaded with the model."""
    return {
        "module": "keras.layers",
        "class_name": "TFSMLayer",
        "config": {"name": "saved", "filepath": str(marker.parent / "saved_model_dir")},
        "registered_name": None,
    }


PAYLOADS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "get_file": get_file_lambda,
    "enable_unsafe_deserialization": enable_unsafe_lambda,
    "plot_image_gallery": plot_gallery_lambda,
    "string_lookup_path": string_lookup,
    "tfsm_layer": tfsm_layer,
}


def write_payload(clean: bytes, kind: str, marker: Path, path: Path) -> Path:
    """`clean` with the `kind` layer inserted after the first Dense layer, saved at `path`."""
    with zipfile.ZipFile(io.BytesIO(clean)) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"].insert(2, PAYLOADS[kind](marker))
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)
    return path
