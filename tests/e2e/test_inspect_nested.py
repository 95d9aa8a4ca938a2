"""`inspect` of a model built around a frozen MobileNetV2 base (a nested functional model).

The base's 154 layers are named `mobilenetv2_0.35_32/...`; an 80-column table used to cut
every one of them to "mobilenetv2_0.35…", and the dead-unit probe saw no ReLU at all (its
ReLUs are `ReLU(6.)` layers inside the base) and blamed a PyTorch forward().
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.runner import run_cli
from tests.test_schemas import validate

keras = pytest.importorskip("keras")
pytestmark = [pytest.mark.keras, pytest.mark.slow]

BASE = "mobilenetv2_0.35_32"


@pytest.fixture(scope="module")
def nested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, keras.Model]:
    root = tmp_path_factory.mktemp("nested")
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(
        weights=None, input_shape=(32, 32, 3), alpha=0.35, include_top=False
    )
    base.trainable = False
    inputs = keras.Input((32, 32, 3))
    x = base(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="head")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x_all = rng.random((64, 32, 32, 3)).astype("float32")
    y_all = rng.integers(0, 3, 64)
    model.fit(x_all[:48], y_all[:48], epochs=1, batch_size=16, verbose=0)
    model.save(root / "model.keras")
    data = root / "images.npz"
    np.savez(data, x_train=x_all[:48], y_train=y_all[:48], x_val=x_all[48:], y_val=y_all[48:])
    return root / "model.keras", data, model


def _dead_counts(model: keras.Model, x: np.ndarray) -> dict[str, int]:
    """Independently: channels of each ReLU layer of the base that are 0 on every sample."""
    base = model.get_layer(BASE)
    relus = [layer for layer in base.layers if isinstance(layer, keras.layers.ReLU)]
    probe = keras.Model(base.inputs, [layer.output for layer in relus])
    outputs = probe(x, training=False)
    return {
        f"{BASE}/{layer.name}": int((np.asarray(out).reshape(-1, out.shape[-1]).max(0) <= 0).sum())
        for layer, out in zip(relus, outputs, strict=True)
    }


def test_json_names_nested_layers_in_full_and_counts_their_dead_units(nested):
    path, data, model = nested
    result = run_cli(["inspect", str(path), "--data", str(data), "--json"])
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    validate(document, "inspect")
    names = [layer["name"] for layer in document["layers"]]
    assert BASE in names
    assert f"{BASE}/block_1_expand" in names
    assert f"{BASE}/block_16_depthwise_relu" in names
    assert (
        len([n for n in names if n.startswith(f"{BASE}/")]) == len(model.get_layer(BASE).layers) - 1
    )  # all but the InputLayer
    units = document["data"]["dead_units"]
    assert len(units) == 35  # MobileNetV2's ReLU(6.) layers, out_relu included
    assert {u["activation"] for u in units} == {"relu6"}
    assert all(u["nested"] for u in units)
    x_train = np.load(data)["x_train"]
    assert {u["layer"]: u["dead"] for u in units} == _dead_counts(model, x_train)


def test_the_table_keeps_names_whole_and_speaks_keras(nested, monkeypatch):
    path, data, _ = nested
    monkeypatch.setenv("COLUMNS", "80")
    result = run_cli(["inspect", str(path), "--data", str(data)])
    assert result.code == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "│" in line]
    first_cells = [row.split("│")[0] for row in rows]
    assert not [cell for cell in first_cells if "…" in cell]
    assert any(re.fullmatch(r" {3}block_1_expand +", cell) for cell in first_cells)
    assert any(cell.strip() == BASE for cell in first_cells)
    assert f"nested model '{BASE}': 35 ReLU layers" in result.stdout
    assert "forward()" not in result.stdout
