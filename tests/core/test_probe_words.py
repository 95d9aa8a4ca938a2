"""inspect --data's dead-unit lines: Keras words for Keras, nested bases summed up."""

from __future__ import annotations

import io

from rich.console import Console  # noqa: TID251  (renders as a terminal would)

from plateau_cli.adapters.base import UnitActivity
from plateau_cli.inspection import DataProbe
from plateau_cli.render.inspect import render_probe


def _shown(units: tuple[UnitActivity, ...], framework: str) -> str:
    out = io.StringIO()
    probe = DataProbe("d.npz", {"loss": 1.0}, {"val_loss": 1.1}, units, (), framework)
    render_probe(Console(file=out, width=200, no_color=True), probe)
    return out.getvalue()


def test_no_relu_in_each_frameworks_words():
    keras_words = _shown((), "keras")
    assert "forward()" not in keras_words
    assert "Activation('relu')" in keras_words
    assert "inside forward() cannot be" in _shown((), "torch")


def test_a_nested_base_is_one_line_then_its_dead_layers_worst_first():
    units = (
        UnitActivity("head", "relu", 4, 1, 10),
        *(UnitActivity(f"base/r{i}", "relu6", 10, i, 10, nested=True) for i in range(8)),
    )
    text = _shown(units, "keras")
    assert "layer 'head' (relu): 1 of 4 units dead (25%)" in text
    assert "nested model 'base': 8 ReLU layers, 28 of 80 units dead on 10 training samples" in text
    shown = [line.split("'")[1] for line in text.splitlines() if "layer 'base/" in line]
    assert shown == ["base/r7", "base/r6", "base/r5", "base/r4", "base/r3"]
    assert "and 2 more of its layers with dead units" in text
    assert "revive reaches the model's own layers, not a nested model's" in text
    assert "--strategy auto" not in text  # no top-level layer is mostly dead
