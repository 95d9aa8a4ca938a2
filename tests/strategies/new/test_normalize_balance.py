"""normalize's unit rescaling (balance.py) keeps the function exactly, and the surgery restarts
the optimizer state of the two layers it touched (the first and the next) and no other, in both
frameworks; the rate option is validated before any framework."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_cli.data.base import ArraySplit, DataBundle
from plateau_cli.errors import UsageError
from plateau_cli.monitor import Monitor
from plateau_cli.strategies import build_strategy
from plateau_cli.strategies.base import StrategyContext
from plateau_cli.strategies.normalize.balance import scale_first, scale_next, unit_scales
from plateau_cli.strategies.normalize.options import NormalizeOptions


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def test_rescaled_units_keep_a_relu_mlp_exactly() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)) * 300
    w1, b1, w2 = rng.normal(size=(6, 4)), rng.normal(size=6), rng.normal(size=(3, 6))
    hidden = _relu(x @ w1.T + b1)
    scales = unit_scales(hidden)
    assert scales.shape == (6,)
    nw1, nb1 = scale_first(w1, b1, scales)
    nw2 = scale_next(w2, scales)
    rescaled = _relu(x @ nw1.T + nb1)
    assert np.allclose(rescaled.std(0), 1.0)  # unit spread now
    assert np.allclose(rescaled @ nw2.T, hidden @ w2.T, rtol=1e-10)


@pytest.mark.parametrize("unit_major", [True, False])
def test_a_flattened_map_scales_each_units_block(unit_major) -> None:
    rng = np.random.default_rng(1)
    maps = _relu(rng.normal(size=(20, 3, 4)))  # 3 units (channels), 4 positions each
    scales = np.array([2.0, 0.5, 4.0])
    flat = (maps if unit_major else maps.transpose(0, 2, 1)).reshape(20, -1)
    divided = (maps / scales[None, :, None]) if unit_major else None
    if not unit_major:
        divided = (maps / scales[None, :, None]).transpose(0, 2, 1)
    w = rng.normal(size=(5, 12))
    assert np.allclose(divided.reshape(20, -1) @ scale_next(w, scales, unit_major).T, flat @ w.T)


def test_a_dead_unit_keeps_scale_one() -> None:
    out = np.zeros((10, 2))
    out[:, 1] = np.arange(10)
    assert unit_scales(out)[0] == 1.0


def test_the_rate_option_is_validated_before_any_framework() -> None:
    with pytest.raises(UsageError, match="--normalize-rate"):
        build_strategy("normalize", {"normalize_rate": "double"})
    assert build_strategy("normalize", {}).options.normalize_rate == "find"


def _bundle() -> DataBundle:
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(120, 4)) * 800 + 2000).astype("float32")
    y = (x[:, 0] > 2000).astype("int64")
    return DataBundle(ArraySplit(x[:90], y[:90]), ArraySplit(x[90:], y[90:]), "npz", "raw.npz")


def _context() -> StrategyContext:
    return StrategyContext(Monitor.for_metric("val_loss"), epochs=1, seed=0, batch_size=32)


@pytest.mark.torch
def test_torch_normalize_restarts_the_state_of_the_two_layers_it_changed(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    from plateau_cli.strategies.normalize import torch as surgery
    from tests.adapters.torch.torch_fixtures import load

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 5), torch.nn.Tanh(),
        torch.nn.Linear(5, 2),
    )  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-7, momentum=0.9)
    bundle = _bundle()
    x, y = torch.tensor(bundle.train.x), torch.tensor(bundle.train.y)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    path = tmp_path / "m.pt"
    torch.save({"model": model, "optimizer": optimizer.state_dict()}, path)
    handle = load(path, trust_pickle=True)
    handle.check_data(bundle)
    xv = torch.tensor(bundle.val.x)
    with torch.no_grad():
        before = handle.model(xv).numpy()
    done = surgery.apply(handle, bundle, _context(), NormalizeOptions())
    assert done["units_rescaled"] == 6
    assert done["inverse_in"] == "2"
    with torch.no_grad():
        after = handle.model(xv).numpy()
    assert np.abs(after - before).max() <= 1e-3 * max(float(np.std(before)), 1.0)
    state = handle.optimizer.state
    layers = handle.model
    for touched in (layers[0], layers[2]):
        assert all(p not in state for p in touched.parameters())
    assert all("momentum_buffer" in state[p] for p in layers[4].parameters())


@pytest.mark.keras
def test_keras_normalize_zeroes_the_slots_of_the_two_layers_it_changed(tmp_path) -> None:
    keras = pytest.importorskip("keras")
    from plateau_cli.strategies.normalize import keras as surgery
    from tests.adapters.keras.builders import load

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(6, activation="relu", name="first"),
            keras.layers.Dense(5, activation="tanh", name="second"),
            keras.layers.Dense(2, name="out"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-6),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    bundle = _bundle()
    model.fit(bundle.train.x, bundle.train.y, epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    handle = load(path)
    handle.check_data(bundle)
    before = np.asarray(handle.model(bundle.val.x))
    done = surgery.apply(handle, bundle, _context(), NormalizeOptions())
    assert done["units_rescaled"] == 6
    assert done["inverse_in"] == "second"
    after = np.asarray(handle.model(bundle.val.x))
    assert np.abs(after - before).max() <= 1e-3 * max(float(np.std(before)), 1.0)
    slots = {v.path: np.asarray(v) for v in handle.model.optimizer.variables}
    for name in ("first", "second"):
        touched = [p for p in slots if f"{name}_kernel" in p.replace("/", "_")]
        assert touched
        assert all(not slots[p].any() for p in touched)
    kept = [p for p in slots if "out_kernel" in p.replace("/", "_")]
    assert kept
    assert any(slots[p].any() for p in kept)


@pytest.mark.torch
def test_torch_normalize_rescales_every_relu_layer_of_a_chain(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    from plateau_cli.strategies.normalize import torch as surgery
    from tests.adapters.torch.torch_fixtures import load

    torch.manual_seed(1)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 5), torch.nn.ReLU(),
        torch.nn.Dropout(0.1), torch.nn.Linear(5, 2),
    )  # fmt: skip
    path = tmp_path / "m.pt"
    torch.save(model, path)
    handle = load(path, trust_pickle=True)
    bundle = _bundle()
    handle.check_data(bundle)
    xv = torch.tensor(bundle.val.x)
    handle.model.eval()  # dropout off: the outputs compared are the function's
    with torch.no_grad():
        before = handle.model(xv).numpy()
    done = surgery.apply(handle, bundle, _context(), NormalizeOptions(normalize_rate="keep"))
    assert (done["units_rescaled"], done["layers_rescaled"], done["inverse_in"]) == (11, 2, "2, 5")
    seen = []
    grab = handle.model[3].register_forward_hook(lambda _m, _a, out: seen.append(out.numpy()))
    with torch.no_grad():
        handle.model(torch.tensor(bundle.train.x))  # the second hidden layer's ReLU output
        grab.remove()
        after = handle.model(xv).numpy()
    hidden = seen[0]
    assert np.abs(after - before).max() <= 1e-3 * max(float(np.std(before)), 1.0)
    live = hidden.std(0) > 1e-6
    assert np.allclose(hidden.std(0)[live], 1.0, rtol=1e-3)


@pytest.mark.keras
def test_keras_normalize_rescales_every_relu_layer_of_a_chain(tmp_path) -> None:
    keras = pytest.importorskip("keras")
    from plateau_cli.strategies.normalize import keras as surgery
    from tests.adapters.keras.builders import load

    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(6, activation="relu", name="first"),
            keras.layers.Dense(5, name="second"),
            keras.layers.ReLU(),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(2, name="out"),
        ]
    )
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    path = tmp_path / "m.keras"
    model.save(path)
    handle = load(path)
    bundle = _bundle()
    handle.check_data(bundle)
    before = np.asarray(handle.model(bundle.val.x, training=False))
    done = surgery.apply(handle, bundle, _context(), NormalizeOptions(normalize_rate="keep"))
    assert (done["units_rescaled"], done["layers_rescaled"]) == (11, 2)
    assert done["inverse_in"] == "second, out"
    after = np.asarray(handle.model(bundle.val.x, training=False))
    assert np.abs(after - before).max() <= 1e-3 * max(float(np.std(before)), 1.0)
