"""widen on Keras models at adapter level: outputs kept, shapes grown, Adam's state remapped
variable by variable, and the topologies it must refuse refused by name."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from plateau_cli.adapters.base import LoadOptions, OptimizerState  # noqa: E402
from plateau_cli.adapters.keras.adapter import KerasAdapter  # noqa: E402
from plateau_cli.data.base import ArraySplit, DataBundle  # noqa: E402
from plateau_cli.errors import StrategyNotApplicableError, UsageError  # noqa: E402
from plateau_cli.monitor import Monitor  # noqa: E402
from plateau_cli.strategies import StrategyContext, build_strategy  # noqa: E402
from plateau_cli.strategies.widen import keras_graph  # noqa: E402

pytestmark = pytest.mark.keras
CONTEXT = StrategyContext(Monitor.for_metric("val_loss", 0.0), epochs=1, seed=0, batch_size=32)
L = keras.layers


def vectors(n: int = 96, features: int = 8) -> DataBundle:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    return DataBundle(ArraySplit(x[:64], y[:64]), ArraySplit(x[64:], y[64:]), "npz", "v.npz")


def images(n: int = 96) -> DataBundle:
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(n, 6, 6, 1)).astype(np.float32)
    y = (x[:, :3].mean((1, 2, 3)) > 0.5).astype(np.int64)
    return DataBundle(ArraySplit(x[:64], y[:64]), ArraySplit(x[64:], y[64:]), "npz", "i.npz")


def handle_for(model, data: DataBundle, tmp_path: Path):
    """Compile with Adam, train one epoch (so the optimizer holds moments), save, load."""
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(data.train.x, data.train.y, epochs=1, batch_size=32, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    return KerasAdapter().load(path, "keras-v3", LoadOptions())


def widen(handle, data, **given):
    return build_strategy("widen", given).apply(handle, data, CONTEXT)


def predict(model, data):
    return np.asarray(model(data.val.x, training=False))


SLOT = re.compile(r"(?:^|_)(a|b|out)_(kernel|bias)_(\w+)$")


def slots(model):
    """Optimizer state by "<layer>_<weight>_<slot>" (the model's own name prefix dropped)."""
    found = ((SLOT.search(v.name), v) for v in model.optimizer.variables)
    return {"_".join(m.groups()): np.asarray(v) for m, v in found if m}


def mlp():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8,)),
            L.Dense(6, activation="relu", name="a"),
            L.Dense(3, activation="relu", name="b"),
            L.Dense(3, activation="softmax", name="out"),
        ]
    )


def test_zero_out_keeps_the_outputs_and_remaps_adam(tmp_path):
    data = vectors()
    handle = handle_for(mlp(), data, tmp_path)
    old = handle.model
    before, state = predict(old, data), slots(old)
    outcome = widen(handle, data)
    new = handle.model
    assert new is not old
    assert new.get_layer("b").kernel.shape == (6, 6)
    assert new.get_layer("out").kernel.shape == (6, 3)
    assert np.max(np.abs(predict(new, data) - before)) <= 1e-6
    details = outcome.details
    assert details["layer"] == "b"
    assert details["chosen_by"] == "the narrowest hidden layer"
    assert details["max_output_change_before_noise"] <= 1e-6
    assert details["params_before"] == 8 * 6 + 6 + 6 * 3 + 3 + 3 * 3 + 3
    assert details["params_after"] == 8 * 6 + 6 + 6 * 6 + 6 + 6 * 3 + 3 == new.count_params()
    assert outcome.optimizer_state is OptimizerState.REMAPPED
    assert "the iteration count continues from 2" in outcome.optimizer_detail
    after = slots(new)
    assert int(new.optimizer.iterations) == int(old.optimizer.iterations) == 2
    for name in ("a_kernel_momentum", "a_bias_velocity"):
        np.testing.assert_array_equal(after[name], state[name])  # untouched layer
    m_old, m_new = state["b_kernel_momentum"], after["b_kernel_momentum"]
    np.testing.assert_array_equal(m_new[:, :3], m_old)
    assert np.all(m_new[:, 3:] == 0)
    v_out = after["out_kernel_velocity"]
    np.testing.assert_array_equal(v_out[:3], state["out_kernel_velocity"])
    assert np.all(v_out[3:] == 0)
    np.testing.assert_array_equal(after["out_bias_momentum"], state["out_bias_momentum"])


def test_net2net_divides_moments_by_the_copy_count(tmp_path):
    data = vectors()
    handle = handle_for(mlp(), data, tmp_path)
    state = slots(handle.model)
    outcome = widen(handle, data, init="net2net", units=6)
    after = slots(handle.model)
    assert outcome.details["max_output_change_before_noise"] <= 1e-5
    assert outcome.details["max_output_change_after_noise"] > 0
    # x2 with balanced copies: every unit is a pair, k = 2
    m, v = after["b_kernel_momentum"], after["b_kernel_velocity"]
    np.testing.assert_allclose(m[:, :3], state["b_kernel_momentum"] / 2, rtol=1e-6)
    np.testing.assert_allclose(v[:, :3], state["b_kernel_velocity"] / 4, rtol=1e-6)
    np.testing.assert_allclose(
        np.sort(m[:, 3:], axis=1), np.sort(state["b_kernel_momentum"] / 2, axis=1)
    )
    out_m = after["out_kernel_momentum"]
    np.testing.assert_array_equal(out_m[:3], state["out_kernel_momentum"])
    assert "first moment / k and second moment / k^2" in outcome.optimizer_detail


def conv_net(pool: str):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 1))
    x = L.Conv2D(3, 3, padding="same", name="conv")(inputs)
    x = L.BatchNormalization(name="bn")(x)
    x = L.ReLU(name="relu")(x)
    if pool == "flatten":
        x = L.Flatten(name="flat")(L.MaxPooling2D(name="pool")(x))
    else:
        x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(8, activation="relu", name="dense")(x)
    return keras.Model(inputs, L.Dense(2, activation="softmax", name="out")(x))


@pytest.mark.parametrize("init", ["zero-out", "net2net"])
@pytest.mark.parametrize("pool", ["flatten", "gap"])
def test_conv_batchnorm_flatten_or_pooling_into_dense(tmp_path, init, pool):
    data = images()
    handle = handle_for(conv_net(pool), data, tmp_path)
    # one more epoch so BatchNorm's moving statistics differ from their start
    handle.model.fit(data.train.x, data.train.y, epochs=1, verbose=0)
    before = predict(handle.model, data)
    given = {"init": init, "noise": 0.0} if init == "net2net" else {"init": init}
    outcome = widen(handle, data, **given)
    new = handle.model
    assert outcome.details["layer"] == "conv"
    assert outcome.details["widened_alongside"] == ["bn"]
    assert new.get_layer("conv").kernel.shape == (3, 3, 1, 6)
    assert new.get_layer("bn").moving_variance.shape == (6,)
    block = 9 if pool == "flatten" else 1
    assert outcome.details["inputs_per_unit"] == block
    assert new.get_layer("dense").kernel.shape == (6 * block, 8)
    assert np.max(np.abs(predict(new, data) - before)) <= 1e-5


def test_random_init_changes_the_outputs_and_says_so(tmp_path):
    data = vectors()
    handle = handle_for(mlp(), data, tmp_path)
    outcome = widen(handle, data, init="random", layer="a")
    assert outcome.details["max_output_change_before_noise"] > 1e-3
    assert "NOT function-preserving" in outcome.changes[0]
    assert outcome.details["chosen_by"] == "--layer"


def residual():
    inputs = keras.Input((8,))
    h = L.Dense(4, activation="relu", name="h")(inputs)
    y = L.Dense(4, name="y")(h)
    s = L.Add(name="add")([h, y])
    return keras.Model(inputs, L.Dense(3, activation="softmax", name="out")(s))


def shared():
    inputs = keras.Input((8,))
    first = L.Dense(8, name="first")(inputs)
    twice = L.Dense(8, activation="relu", name="twice")
    x = twice(L.Dense(8, name="mid")(twice(first)))
    return keras.Model(inputs, L.Dense(3, activation="softmax", name="out")(x))


@pytest.mark.parametrize(
    ("build", "layer", "message"),
    [
        (residual, "h", "cannot widen h (Dense): its output feeds 2 layers (y, add)"),
        (shared, "twice", "cannot widen twice (Dense): it is shared (called at 2 places)"),
        (mlp, "out", "cannot widen out (Dense): it is an output layer"),
    ],
)
def test_refusals(tmp_path, build, layer, message):
    data = vectors()
    handle = handle_for(build(), data, tmp_path)
    model = handle.model
    with pytest.raises(
        StrategyNotApplicableError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        widen(handle, data, layer=layer)
    assert handle.model is model  # nothing changed


def test_an_unknown_layer_lists_the_widenable_ones(tmp_path):
    data = vectors()
    handle = handle_for(mlp(), data, tmp_path)
    with pytest.raises(UsageError, match=r"widenable layers: a \(6 units\), b \(3 units\)"):
        widen(handle, data, layer="dense_9")


def test_a_subclassed_model_is_refused():
    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = L.Dense(4)
            self.out = L.Dense(2)

        def call(self, x):
            return self.out(self.hidden(x))

    with pytest.raises(StrategyNotApplicableError, match="subclassed model"):
        keras_graph.read_graph(Net())


def test_a_nested_model_is_kept_and_cannot_itself_be_widened(tmp_path):
    data = vectors()
    keras.utils.set_random_seed(0)
    base = keras.Sequential(
        [keras.Input((8,)), L.Dense(6, activation="relu", name="b1"), L.Dense(6, name="b2")],
        name="base",
    )
    inputs = keras.Input((8,))
    head = L.Dense(3, activation="relu", name="head")(base(inputs))
    handle = handle_for(
        keras.Model(inputs, L.Dense(3, activation="softmax", name="out")(head)), data, tmp_path
    )
    before, inner = predict(handle.model, data), handle.model.get_layer("base").get_weights()
    with pytest.raises(StrategyNotApplicableError, match="cannot widen base"):
        widen(handle, data, layer="base")
    outcome = widen(handle, data)
    assert outcome.details["layer"] == "head"
    assert np.max(np.abs(predict(handle.model, data) - before)) <= 1e-6
    for a, b in zip(handle.model.get_layer("base").get_weights(), inner, strict=True):
        np.testing.assert_array_equal(a, b)
    handle.model.fit(data.train.x, data.train.y, epochs=1, verbose=0)  # the optimizer fits
