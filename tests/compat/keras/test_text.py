"""Text models that take raw strings: TextVectorization and StringLookup, as keras.io builds them.

A sentence classifier (`Input(dtype="string")` -> TextVectorization adapted on the training
texts -> Embedding -> GlobalAveragePooling1D -> Dense softmax) is trained briefly with its own
`fit` on a tf.data pipeline, saved as .keras, and resumed through the CLI from each data source
that can hold text: an .npz of numpy strings, a CSV text column, an entry point returning a
tf.data.Dataset. The written model is loaded with plain `keras.models.load_model` and its
reported metrics must equal an independent `evaluate` on the validation strings: that also
proves the adapted vocabulary went through the .keras archive.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.compat.keras.cases import report, resume

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

ROOT = Path(__file__).resolve().parents[3]
#: Reported and independently evaluated metrics agree to float32 noise.
RTOL = 1e-5
CLASSES = ("animals", "colours", "motions")
WORDS = (
    "cat dog bird fish horse cow goat",
    "red blue green yellow black white pink",
    "run jump swim fly walk sit climb",
)
FILLER = ["the", "a", "of", "and", "to", "in", "on"]


def sentences(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seven-word sentences: three topic words of the class, three fillers, one of another
    class (so the task is learnable but not trivial)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), count)
    texts = []
    for label in labels:
        words = [*rng.choice(WORDS[label].split(), 3), *rng.choice(FILLER, 3)]
        words.append(rng.choice(WORDS[(label + 1) % len(CLASSES)].split()))
        rng.shuffle(words)
        texts.append(" ".join(words))
    return np.array(texts), labels.astype("int64")


def _text_model(x_train: np.ndarray):
    vectorize = keras.layers.TextVectorization(max_tokens=40, output_sequence_length=8)
    vectorize.adapt(x_train)
    inputs = keras.Input(shape=(1,), dtype="string")
    hidden = vectorize(inputs)
    hidden = keras.layers.Embedding(40, 8)(hidden)
    hidden = keras.layers.GlobalAveragePooling1D()(hidden)
    outputs = keras.layers.Dense(len(CLASSES), activation="softmax")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _dataset(x: np.ndarray, y: np.ndarray, shuffle: bool = False):
    data = tf.data.Dataset.from_tensor_slices((x, y))
    return (data.shuffle(len(x), seed=0) if shuffle else data).batch(16)


def _evaluated(model, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    values = model.evaluate(_dataset(x, y), verbose=0, return_dict=True)
    return {f"val_{name}": float(value) for name, value in values.items()}


def _assert_equal(reported: dict[str, float], independent: dict[str, float]) -> None:
    assert set(independent) <= set(reported), (reported, independent)
    for name, value in independent.items():
        assert np.isclose(reported[name], value, rtol=RTOL, atol=1e-7), (name, reported, value)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    (x_train, y_train), (x_val, y_val) = sentences(240, 0), sentences(90, 1)
    keras.utils.set_random_seed(0)
    model = _text_model(x_train)
    model.fit(_dataset(x_train, y_train, shuffle=True), epochs=2, verbose=0)
    model.save(root / "model.keras")
    np.savez(root / "text.npz", x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val)
    with (root / "text.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "topic", "split"])
        for split, xs, ys in (("train", x_train, y_train), ("val", x_val, y_val)):
            writer.writerows([x, CLASSES[label], split] for x, label in zip(xs, ys, strict=True))
    (root / "pipeline.py").write_text(
        "import numpy as np\n"
        "import tensorflow as tf\n\n\n"
        "def load():\n"
        f"    arrays = np.load({str(root / 'text.npz')!r})\n"
        "    def pairs(x, y):\n"
        "        return tf.data.Dataset.from_tensor_slices((arrays[x], arrays[y])).batch(16)\n"
        "    return pairs('x_train', 'y_train'), pairs('x_val', 'y_val')\n"
    )
    return root, (x_val, y_val), _evaluated(model, x_val, y_val), model


@pytest.mark.slow
@pytest.mark.parametrize("source", ["text.npz", "text.csv", "pipeline.py:load"])
def test_resumed_text_model_equals_an_independent_evaluate(trained, tmp_path, source):
    root, (x_val, y_val), before, original = trained
    extra = ("--target", "topic") if source.endswith(".csv") else ()
    result = resume(
        root / "model.keras", str(root / source), tmp_path / "o", "--strategy", "lr-decay", *extra
    )
    doc = report(result)
    _assert_equal(doc["baseline"], before)
    assert doc["health"] == []  # no scale advice for text
    written = keras.models.load_model(tmp_path / "o" / "model.keras")
    assert written.layers[1].get_vocabulary() == original.layers[1].get_vocabulary()
    _assert_equal(doc["output_metrics"], _evaluated(written, x_val, y_val))
    assert doc["optimizer"]["state"] == "restored"


@pytest.mark.slow
def test_auto_and_lr_find_work_and_augment_refuses(trained, tmp_path):
    root, *_ = trained
    data = str(root / "text.npz")
    auto = report(resume(root / "model.keras", data, tmp_path / "a", "--strategy", "auto"))
    assert auto["strategy"]["name"] not in ("augment", "normalize")
    found = report(resume(root / "model.keras", data, tmp_path / "f", "--strategy", "lr-find"))
    assert found["epochs_run"] == 1
    for strategy in ("augment", "normalize"):
        refused = resume(root / "model.keras", data, tmp_path / strategy, "--strategy", strategy)
        assert refused.code == 2, refused.stderr
        assert "this model takes strings" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert not (tmp_path / strategy / "model.keras").exists()


@pytest.mark.slow
def test_strings_for_a_numeric_model_and_object_arrays_are_refused(trained, tmp_path):
    root, *_ = trained
    numeric = keras.Sequential([keras.Input((1,)), keras.layers.Dense(3, activation="softmax")])
    numeric.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    numeric.save(tmp_path / "numeric.keras")
    refused = resume(
        tmp_path / "numeric.keras", str(root / "text.npz"), tmp_path / "n", "--strategy", "lr-decay"
    )
    assert refused.code == 2, refused.stderr
    assert "training features hold strings" in refused.stderr
    assert "the model needs numbers" in refused.stderr
    assert not (tmp_path / "n").exists()

    arrays = dict(np.load(root / "text.npz"))
    np.savez(tmp_path / "objects.npz", **(arrays | {"x_train": arrays["x_train"].astype(object)}))
    refused = resume(
        root / "model.keras",
        str(tmp_path / "objects.npz"),
        tmp_path / "p",
        "--strategy",
        "lr-decay",
    )
    assert refused.code == 2, refused.stderr
    assert "pickled object array" in refused.stderr
    assert ".astype(str)" in refused.stderr
    assert not (tmp_path / "p").exists()


@pytest.mark.slow
def test_string_lookup_model_widens_with_its_vocabulary(tmp_path):
    """A categorical model (two string columns -> StringLookup one-hot -> Dense): widen rebuilds
    it from its config, and the adapted vocabulary must come along (not an empty table)."""
    rng = np.random.default_rng(0)
    colours = np.array(["red", "green", "blue", "cyan"])
    x = colours[rng.integers(0, 4, (300, 2))]
    y = ((x[:, 0] == x[:, 1]).astype("int64") + (x[:, 0] == "red")).astype("int64")
    np.savez(tmp_path / "cat.npz", x_train=x[:200], y_train=y[:200], x_val=x[200:], y_val=y[200:])
    keras.utils.set_random_seed(0)
    lookup = keras.layers.StringLookup(output_mode="one_hot")
    lookup.adapt(x[:200])
    inputs = keras.Input((2,), dtype="string")
    hidden = keras.layers.Dense(4, activation="relu")(keras.layers.Flatten()(lookup(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(_dataset(x[:200], y[:200]), epochs=2, verbose=0)
    model.save(tmp_path / "cat.keras")
    doc = report(resume(tmp_path / "cat.keras", str(tmp_path / "cat.npz"), tmp_path / "o",
                        "--strategy", "widen"))  # fmt: skip
    _assert_equal(doc["baseline"], _evaluated(model, x[200:], y[200:]))
    written = keras.models.load_model(tmp_path / "o" / "model.keras")
    assert written.layers[1].get_vocabulary() == lookup.get_vocabulary()
    _assert_equal(doc["output_metrics"], _evaluated(written, x[200:], y[200:]))


@pytest.mark.slow
def test_resume_and_inspect_in_a_subprocess(trained, tmp_path):
    """The console path end to end, as a user runs it: `python -m plateau_cli`."""
    root, (x_val, y_val), before, _ = trained
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1"}

    def cli(*args: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "plateau_cli", *args, "--json"],
            capture_output=True, text=True, env=env, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    model, data = str(root / "model.keras"), str(root / "text.npz")
    seen = cli("inspect", model, "--data", data)
    assert any("takes strings" in note for note in seen["notes"])
    _assert_equal({f"val_{k}": v for k, v in seen["data"]["val"].items()}, before)
    assert seen["data"]["health"] == []
    doc = cli("resume", model, "--data", data, "--strategy", "lr-decay", "--epochs", "2",
              "--out", str(tmp_path / "o"), "--seed", "0")  # fmt: skip
    assert doc["epochs_run"] == 2
    written = keras.models.load_model(tmp_path / "o" / "model.keras")
    _assert_equal(doc["output_metrics"], _evaluated(written, x_val, y_val))
