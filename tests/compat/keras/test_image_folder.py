"""A Rescaling CNN trained on `image_dataset_from_directory`, resumed from the same folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.compat.keras.cases import assert_metrics_equal, evaluated, report, resume

keras = pytest.importorskip("keras")
Image = pytest.importorskip("PIL.Image")

SIZE = 16


def _folder(root: Path) -> Path:
    """Three classes of 16x16 RGB PNGs, each tinted towards one channel."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 24), ("val", 12)):
        for label in range(3):
            folder = root / split / f"c{label}"
            folder.mkdir(parents=True)
            for i in range(count):
                tint = np.zeros((SIZE, SIZE, 3))
                tint[..., label] = 160
                pixels = np.clip(tint + rng.normal(0, 60, tint.shape), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def _datasets(root: Path):
    train = keras.utils.image_dataset_from_directory(
        root / "train", image_size=(SIZE, SIZE), batch_size=8, seed=0, verbose=False
    )
    val = keras.utils.image_dataset_from_directory(
        root / "val", image_size=(SIZE, SIZE), batch_size=8, shuffle=False, verbose=False
    )
    return train, val


def _cnn(rescaling: bool):
    layers = [keras.Input((SIZE, SIZE, 3))]
    layers += [keras.layers.Rescaling(1 / 127.5, offset=-1)] if rescaling else []
    layers += [
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax"),
    ]
    model = keras.Sequential(layers)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = _folder(tmp_path_factory.mktemp("images"))
    train, val = _datasets(root)
    keras.utils.set_random_seed(0)
    model = _cnn(rescaling=True)
    log = root / "log.csv"
    model.fit(
        train, validation_data=val, epochs=3, verbose=0, callbacks=[keras.callbacks.CSVLogger(log)]
    )
    model.save(root / "model.keras")
    return root, evaluated(model, val)


@pytest.mark.slow
def test_baseline_equals_evaluate_on_image_dataset_from_directory(trained, tmp_path):
    root, independent = trained
    result = resume(
        root / "model.keras",
        str(root),
        tmp_path / "o",
        "--strategy",
        "lr-decay",
        "--log",
        str(root / "log.csv"),
    )
    doc = report(result)
    assert_metrics_equal(doc["baseline"], independent)
    assert doc["health"] == []  # no "standardise them": the model rescales itself
    notes = " ".join(doc["notes"])
    assert "pixels fed as floats 0..255" in notes
    assert "Rescaling(scale=0.00784, offset=-1)" in notes
    assert "agrees with the log's last value" in notes
    written = keras.models.load_model(tmp_path / "o" / "model.keras")
    _, val = _datasets(root)
    assert_metrics_equal(doc["output_metrics"], evaluated(written, val))


@pytest.mark.slow
def test_images_fed_otherwise_than_in_training_stop_before_training(tmp_path):
    """A CNN trained on images divided by 255 outside the model: the folder (0..255) is not
    what it saw, and its log says so."""
    root = _folder(tmp_path / "images")
    train, val = _datasets(root)
    keras.utils.set_random_seed(0)
    model = _cnn(rescaling=False)
    log = root / "log.csv"
    scaled = [d.map(lambda x, y: (x / 255.0, y)) for d in (train, val)]
    model.fit(
        scaled[0],
        validation_data=scaled[1],
        epochs=3,
        verbose=0,
        callbacks=[keras.callbacks.CSVLogger(log)],
    )
    model.save(root / "model.keras")
    result = resume(
        root / "model.keras",
        str(root),
        tmp_path / "o",
        "--strategy",
        "lr-decay",
        "--log",
        str(log),
    )
    assert result.code == 2, result.stderr
    assert "the data is not fed as in training" in result.stderr
    assert "pixels fed as floats 0..255" in result.stderr
    assert not (tmp_path / "o").exists()
    last = float(log.read_text().splitlines()[-1].split(",")[-1])
    assert f"{last:.4g}" in result.stderr


def test_torch_keeps_tensor_scale(tmp_path):
    """Without a model (or for torch) images stay in ToTensor's 0..1."""
    from plateau_cli.data import load_data, parse_data_spec

    root = _folder(tmp_path / "images")
    bundle = load_data(parse_data_spec(str(root), target=None, val_split=None, seed=0), None)
    assert float(bundle.train.x.min()) >= 0.0
    assert float(bundle.train.x.max()) <= 1.0
    assert any("0..1" in note for note in bundle.notes)
