"""`keras.callbacks.BackupAndRestore` directories, written by a real interrupted `fit`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from plateau_cli.adapters.base import OptimizerState  # noqa: E402
from plateau_cli.adapters.sniff import KERAS_BACKUP_DIR, sniff_checkpoint  # noqa: E402
from plateau_cli.errors import BadInputError, CorruptCheckpointError  # noqa: E402
from tests.adapters.keras import builders  # noqa: E402

pytestmark = pytest.mark.keras

BUILD = """
import keras


def build(hidden=4):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(hidden, activation="relu", name="hidden"),
            keras.layers.Dense(3, activation="softmax", name="out"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
"""


class Interrupt(keras.callbacks.Callback):
    """Raises at the start of epoch `at` (0-based), as the Keras docs interrupt a fit."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise RuntimeError("interrupted")


def _interrupted_fit(backup: Path, factory: str, at: int = 2, **callback) -> keras.Model:
    """Build with the factory, fit 5 epochs of 4 steps, interrupted before epoch `at` + 1."""
    from plateau_cli import entry_points

    model = entry_points.call(factory, "--model-factory", {})
    data = builders.blobs()
    backup_and_restore = keras.callbacks.BackupAndRestore(str(backup), **callback)
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(
            data.train.x,
            data.train.y,
            epochs=5,
            batch_size=32,
            verbose=0,
            callbacks=[backup_and_restore, Interrupt(at)],
        )
    return model


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("code") / "backup_build.py"
    path.write_text(BUILD)
    return f"{path}:build"


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory, factory: str) -> tuple[Path, keras.Model]:
    backup = tmp_path_factory.mktemp("run") / "backup"
    return backup, _interrupted_fit(backup, factory)


def test_what_an_interrupted_fit_leaves_is_sniffed_as_a_backup(interrupted):
    backup, _ = interrupted
    assert sorted(p.name for p in backup.iterdir()) == [
        "latest.weights.h5",
        "training_metadata.json",
    ]
    assert json.loads((backup / "training_metadata.json").read_text()) == {"epoch": 2, "batch": 0}
    sniffed = sniff_checkpoint(backup)
    assert (sniffed.framework, sniffed.format) == ("keras", KERAS_BACKUP_DIR)


def test_a_finished_fit_leaves_nothing_to_resume(tmp_path):
    """Keras deletes backup_dir when fit returns: only an interrupted run has one."""
    model = builders.compiled(builders.mlp())
    data = builders.blobs()
    backup = tmp_path / "backup"
    callback = keras.callbacks.BackupAndRestore(str(backup))
    model.fit(data.train.x, data.train.y, epochs=1, verbose=0, callbacks=[callback])
    assert not backup.exists()


def test_resumes_weights_optimizer_and_epoch(interrupted, factory):
    backup, model = interrupted
    handle = builders.load(backup, model_factory=factory)
    for mine, theirs in zip(handle.model.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert handle.optimizer_state is OptimizerState.RESTORED
    steps = int(model.optimizer.iterations)
    assert steps == 8  # 2 epochs of ceil(120 / 32) = 4 steps
    description = handle.describe()
    assert description.optimizer.iterations == steps
    assert description.format == KERAS_BACKUP_DIR
    assert description.extra["checkpoint_epoch"] == 2
    assert description.extra["backup_weights"] == "latest.weights.h5"
    assert any("written after epoch 2" in note for note in description.notes)
    for mine, theirs in zip(
        handle.model.optimizer.variables, model.optimizer.variables, strict=True
    ):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


def test_the_output_is_a_full_keras_archive(interrupted, factory, tmp_path):
    backup, model = interrupted
    handle = builders.load(backup, model_factory=factory)
    handle.save(tmp_path / "model.keras", epochs_done=0)
    written = keras.models.load_model(tmp_path / "model.keras")  # no factory needed
    data = builders.blobs()
    np.testing.assert_allclose(
        written.predict(data.val.x, verbose=0), model.predict(data.val.x, verbose=0), rtol=1e-6
    )
    assert int(written.optimizer.iterations) == 8


def test_without_a_factory_one_line_names_the_option(interrupted):
    backup, _ = interrupted
    with pytest.raises(BadInputError) as caught:
        builders.load(backup)
    message = str(caught.value)
    assert "\n" not in message
    assert "--model-factory" in message
    assert "BackupAndRestore" in message
    assert "after epoch 2" in message
    assert caught.value.exit_status == 2


def test_double_checkpoint_falls_back_to_the_previous_state(tmp_path, factory):
    backup = tmp_path / "backup"
    _interrupted_fit(backup, factory, at=2, double_checkpoint=True)
    assert (backup / "latest.weights.h5.bkp").is_file()
    (backup / "latest.weights.h5").write_bytes(b"not hdf5 at all")  # damaged by a crash
    handle = builders.load(backup, model_factory=factory)
    description = handle.describe()
    assert description.extra["checkpoint_epoch"] == 1
    assert description.extra["backup_weights"] == "latest.weights.h5.bkp"
    assert description.optimizer.iterations == 4
    assert any("previous backup" in note for note in description.notes)
    with pytest.raises(BadInputError) as caught:  # a factory that builds another model
        builders.load(backup, model_factory=factory, factory_args={"hidden": 6})
    assert str(backup / "latest.weights.h5.bkp") in str(caught.value)


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ("{not json", CorruptCheckpointError),
        ('{"epoch": -1, "batch": 0}', CorruptCheckpointError),
        ('["epoch", 2]', CorruptCheckpointError),
    ],
)
def test_damaged_metadata_is_one_line(interrupted, tmp_path, factory, metadata, error):
    backup = tmp_path / "backup"
    shutil.copytree(interrupted[0], backup)
    (backup / "training_metadata.json").write_text(metadata)
    with pytest.raises(error) as caught:
        builders.load(backup, model_factory=factory)
    assert "training_metadata.json" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_metadata_without_weights_says_what_is_missing(tmp_path, factory):
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}')
    with pytest.raises(BadInputError, match=r"without latest\.weights\.h5"):
        builders.load(backup, model_factory=factory)


def test_a_directory_that_is_not_a_backup_stays_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BadInputError, match="is a directory"):
        sniff_checkpoint(tmp_path)
