"""Checkpoints built once per session: training a tiny model costs ~0.5 s, loading it ~0.05 s."""

from __future__ import annotations

from pathlib import Path

import pytest

keras = pytest.importorskip("keras")

from tests.adapters.keras import builders  # noqa: E402


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keras-models")


@pytest.fixture(scope="session")
def trained_model(models_dir: Path) -> keras.Model:
    """An Adam-trained MLP (2 epochs of 4 steps: iterations 8), kept in memory too."""
    return builders.train(builders.compiled(builders.mlp()))


@pytest.fixture(scope="session")
def trained_keras(models_dir: Path, trained_model: keras.Model) -> Path:
    return builders.save(trained_model, models_dir / "trained.keras")


@pytest.fixture(scope="session")
def trained_h5(models_dir: Path, trained_model: keras.Model) -> Path:
    return builders.save(trained_model, models_dir / "trained.h5")


@pytest.fixture(scope="session")
def untrained_keras(models_dir: Path) -> Path:
    """Saved right after compile(): the file holds `iteration` and `learning_rate` only."""
    return builders.save(builders.compiled(builders.mlp()), models_dir / "untrained.keras")


@pytest.fixture(scope="session")
def skipped_keras(models_dir: Path) -> Path:
    """Trained, then a layer frozen before saving: the optimizer variable count differs."""
    model = builders.train(builders.compiled(builders.mlp()), epochs=1)
    model.get_layer("hidden").trainable = False
    return builders.save(model, models_dir / "skipped.keras")


@pytest.fixture(scope="session")
def uncompiled_keras(models_dir: Path) -> Path:
    return builders.save(builders.mlp(), models_dir / "uncompiled.keras")


@pytest.fixture(scope="session")
def cosine_keras(models_dir: Path) -> Path:
    """Adam on a CosineDecay schedule, trained 3 epochs (12 steps)."""
    schedule = keras.optimizers.schedules.CosineDecay(0.05, decay_steps=40)
    model = builders.compiled(builders.mlp(), keras.optimizers.Adam(schedule))
    return builders.save(builders.train(model, epochs=3), models_dir / "cosine.keras")
