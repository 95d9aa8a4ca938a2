"""Finished learning-rate schedules and tf.keras (Keras 2) files, resumed through the CLI."""

from __future__ import annotations

import pytest

from tests.compat.keras.cases import assert_metrics_equal, evaluated, report, resume, tabular

keras = pytest.importorskip("keras")


def _finished_cosine(path, arrays, warmup: bool):
    """Adam on a CosineDecay run past its decay_steps: the rate is 0 when saved."""
    keras.utils.set_random_seed(0)
    if warmup:
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=30, warmup_target=0.02, warmup_steps=5
        )
    else:
        schedule = keras.optimizers.schedules.CosineDecay(0.02, decay_steps=30)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(2, "softmax")]
    )
    model.compile(
        keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(arrays["x_train"], arrays["y_train"], batch_size=32, epochs=6, verbose=0)
    assert float(model.optimizer.learning_rate) == 0.0
    model.save(path)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("warmup", [False, True])
def test_finished_cosine_resumes_from_its_peak_times_the_factor(tmp_path, warmup):
    arrays = tabular(tmp_path / "data.npz")
    model = _finished_cosine(tmp_path / "cos.keras", arrays, warmup)
    result = resume(
        tmp_path / "cos.keras",
        str(tmp_path / "data.npz"),
        tmp_path / "o",
        "--strategy",
        "lr-decay",
    )
    doc = report(result)
    assert "CosineDecay schedule has finished" in doc["optimizer"]["loaded_detail"]
    assert doc["optimizer"]["learning_rate_at_load"] == pytest.approx(0.02)
    assert doc["strategy"]["parameters"]["lr"] == pytest.approx(0.002)
    assert doc["optimizer"]["loaded_state"] == "restored"
    assert_metrics_equal(doc["baseline"], evaluated(model, arrays["x_val"], arrays["y_val"]))
    written = keras.models.load_model(tmp_path / "o" / "model.keras")
    assert float(written.optimizer.learning_rate) == pytest.approx(0.002)
    assert int(written.optimizer.iterations) > int(model.optimizer.iterations)
    assert_metrics_equal(
        doc["output_metrics"], evaluated(written, arrays["x_val"], arrays["y_val"])
    )


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file")
def test_tf_keras_h5_keeps_its_learning_rate_and_state(tmp_path):
    """tf_keras needs the full `tensorflow` distribution, which CI (tensorflow-cpu) does not
    install beside Keras 3, so this runs only where tf_keras is importable."""
    tf_keras = pytest.importorskip("tf_keras")
    arrays = tabular(tmp_path / "data.npz")
    old = tf_keras.Sequential(
        [
            tf_keras.Input((8,)),
            tf_keras.layers.Dense(8, "relu"),
            tf_keras.layers.Dense(2, "softmax"),
        ]
    )
    old.compile(
        tf_keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    old.fit(arrays["x_train"], arrays["y_train"], epochs=2, verbose=0)
    old.save(tmp_path / "old.h5")
    loss, accuracy = old.evaluate(arrays["x_val"], arrays["y_val"], verbose=0)
    result = resume(
        tmp_path / "old.h5", str(tmp_path / "data.npz"), tmp_path / "o", "--strategy", "lr-decay"
    )
    doc = report(result)
    assert doc["optimizer"]["learning_rate_at_load"] == pytest.approx(0.01)
    assert doc["strategy"]["parameters"]["lr"] == pytest.approx(0.001)
    assert doc["optimizer"]["loaded_state"] == "restored"
    assert doc["optimizer"]["iterations_at_load"] == 14
    assert_metrics_equal(doc["baseline"], {"val_loss": loss, "val_accuracy": accuracy})
    written = keras.models.load_model(tmp_path / "o" / "model.keras")
    assert_metrics_equal(
        doc["output_metrics"], evaluated(written, arrays["x_val"], arrays["y_val"])
    )


@pytest.fixture
def mixed_float16():
    """The training script's `set_global_policy("mixed_float16")`, undone afterwards."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy(before)


@pytest.mark.slow
def test_mixed_precision_keeps_loss_scaling_and_optimizer_state(tmp_path, mixed_float16):
    arrays = tabular(tmp_path / "data.npz")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(8, "relu"),
            keras.layers.Dense(2),
            keras.layers.Activation("softmax", dtype="float32"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(arrays["x_train"], arrays["y_train"], batch_size=32, epochs=2, verbose=0)
    steps = int(model.optimizer.iterations)
    model.save(tmp_path / "mp.keras")
    keras.config.set_dtype_policy("float32")  # plateau-cli runs without the user's script
    result = resume(
        tmp_path / "mp.keras", str(tmp_path / "data.npz"), tmp_path / "o", "--strategy", "lr-decay"
    )
    doc = report(result)
    assert doc["optimizer"]["name"] == "LossScaleOptimizer"
    assert doc["optimizer"]["loaded_state"] == "restored"
    assert doc["optimizer"]["iterations_at_load"] == steps
    assert keras.config.dtype_policy().name == "float32"  # the run left no policy behind
    assert_metrics_equal(doc["baseline"], evaluated(model, arrays["x_val"], arrays["y_val"]))
    keras.config.set_dtype_policy("mixed_float16")  # as the user loads it
    written = keras.models.load_model(tmp_path / "o" / "model.keras")
    assert type(written.optimizer).__name__ == "LossScaleOptimizer"
    assert int(written.optimizer.iterations) == steps + 7  # one epoch of 200 / 32 batches
    assert_metrics_equal(
        doc["output_metrics"], evaluated(written, arrays["x_val"], arrays["y_val"])
    )
