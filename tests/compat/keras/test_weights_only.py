"""A ModelCheckpoint(save_weights_only=True) file, resumed with the code that builds it."""

from __future__ import annotations

import importlib.util
import textwrap

import pytest

from tests.compat.keras.cases import assert_metrics_equal, evaluated, report, resume, tabular

keras = pytest.importorskip("keras")

BUILD = textwrap.dedent(
    """
    import keras


    def make_model(hidden=8):
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(hidden, activation="relu"),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile(
            keras.optimizers.Adam(0.005), "sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        return model
    """
)


@pytest.mark.slow
def test_weights_h5_with_factory_resumes_to_a_full_keras_file(tmp_path):
    build = tmp_path / "compat_build.py"
    build.write_text(BUILD)
    spec = importlib.util.spec_from_file_location("compat_build_user", build)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    arrays = tabular(tmp_path / "data.npz")
    keras.utils.set_random_seed(0)
    model = module.make_model(hidden=6)
    checkpoint = keras.callbacks.ModelCheckpoint(tmp_path / "ck.weights.h5", save_weights_only=True)
    model.fit(arrays["x_train"], arrays["y_train"], epochs=2, verbose=0, callbacks=[checkpoint])
    steps = int(model.optimizer.iterations)
    refused = resume(
        tmp_path / "ck.weights.h5",
        str(tmp_path / "data.npz"),
        tmp_path / "x",
        "--strategy",
        "lr-decay",
    )
    assert refused.code == 2
    assert "--model-factory" in refused.stderr
    result = resume(
        tmp_path / "ck.weights.h5",
        str(tmp_path / "data.npz"),
        tmp_path / "o",
        "--strategy",
        "lr-decay",
        "--model-factory",
        f"{build}:make_model",
        "--factory-arg",
        "hidden=6",
    )
    doc = report(result)
    assert doc["optimizer"]["loaded_state"] == "restored"
    assert doc["optimizer"]["iterations_at_load"] == steps
    assert doc["strategy"]["parameters"]["lr"] == pytest.approx(0.0005)
    assert_metrics_equal(doc["baseline"], evaluated(model, arrays["x_val"], arrays["y_val"]))
    written = keras.models.load_model(tmp_path / "o" / "model.keras")  # no factory needed now
    assert_metrics_equal(
        doc["output_metrics"], evaluated(written, arrays["x_val"], arrays["y_val"])
    )
