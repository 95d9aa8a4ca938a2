"""The unit-growing arithmetic on plain arrays: every init keeps (or, for `random`, changes)
the function of small numpy networks, for Dense and convolution-like layers, BatchNorm and
Flatten consumers, and the optimizer slots scale as derived."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_cli.strategies.widen.arithmetic import (
    FRESH,
    Init,
    Role,
    Slot,
    UnitAxis,
    UnitMap,
    add_noise,
    grow,
    incoming,
    outgoing,
    per_unit,
    remap_slot,
)

RNG_SEED = 0


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def mlp(x, w1, b1, w2, b2):
    """Keras layout: kernels (in, out)."""
    return relu(x @ w1 + b1) @ w2 + b2


def units_for(init: Init, old: int, new: int, rng: np.random.Generator) -> UnitMap:
    return UnitMap.replicate(old, new, rng) if init is Init.NET2NET else UnitMap.extend(old, new)


@pytest.fixture
def net():
    rng = np.random.default_rng(1)
    return {
        "x": rng.normal(size=(50, 6)),
        "w1": rng.normal(size=(6, 3)),
        "b1": rng.normal(size=3),
        "w2": rng.normal(size=(3, 5)),
        "b2": rng.normal(size=5),
    }


def widen_mlp(net, init: Init, new: int, seed: int = RNG_SEED):
    rng = np.random.default_rng(seed)
    units = units_for(init, 3, new, rng)
    w1 = incoming(net["w1"], UnitAxis(-1), units, init, 6, rng)
    b1 = per_unit(net["b1"], units, init, 0.0)
    w2 = outgoing(net["w2"], UnitAxis(0), units, init, new, rng)
    b2 = np.zeros_like(net["b2"]) if init is Init.RANDOM else net["b2"]
    return units, (w1, b1, w2, b2)


@pytest.mark.parametrize("init", [Init.ZERO_OUT, Init.NET2NET])
@pytest.mark.parametrize("new", [4, 6, 7, 13])
def test_function_preserving_inits_keep_a_dense_network(net, init, new):
    _, (w1, b1, w2, b2) = widen_mlp(net, init, new)
    assert w1.shape == (6, new)
    assert w2.shape == (new, 5)
    before = mlp(net["x"], net["w1"], net["b1"], net["w2"], net["b2"])
    after = mlp(net["x"], w1, b1, w2, b2)
    assert np.max(np.abs(after - before)) < 1e-12


def test_random_init_changes_the_function(net):
    _, weights = widen_mlp(net, Init.RANDOM, 6)
    before = mlp(net["x"], net["w1"], net["b1"], net["w2"], net["b2"])
    assert np.max(np.abs(mlp(net["x"], *weights) - before)) > 0.1


def test_zero_out_new_units_have_he_incoming_and_zero_outgoing_weights(net):
    _, (w1, b1, w2, _) = widen_mlp(net, Init.ZERO_OUT, 3 + 400)
    np.testing.assert_array_equal(w1[:, :3], net["w1"])
    np.testing.assert_array_equal(w2[:3], net["w2"])
    assert np.all(w2[3:] == 0)
    assert np.all(b1[3:] == 0)
    # He normal: std sqrt(2 / fan_in) with fan_in 6 over 2400 draws.
    assert np.std(w1[:, 3:]) == pytest.approx(np.sqrt(2 / 6), rel=0.05)


def test_net2net_copies_and_divides_outgoing_weights_by_the_copy_count(net):
    units, (w1, b1, w2, _) = widen_mlp(net, Init.NET2NET, 7)
    sources = units.source_array
    np.testing.assert_array_equal(w1, net["w1"][:, sources])
    np.testing.assert_array_equal(b1, net["b1"][sources])
    counts = units.counts
    np.testing.assert_allclose(w2, net["w2"][sources] / counts[sources][:, None])
    # the copies of each unit sum to its original outgoing weights
    for unit in range(3):
        np.testing.assert_allclose(w2[sources == unit].sum(0), net["w2"][unit])


def test_replicate_spreads_copies_evenly_and_is_seeded():
    a = UnitMap.replicate(4, 8, np.random.default_rng(3))
    b = UnitMap.replicate(4, 8, np.random.default_rng(3))
    assert a == b
    assert list(a.counts) == [2, 2, 2, 2]  # x2: every unit a pair, divisor 2 exact in floats
    c = UnitMap.replicate(4, 11, np.random.default_rng(0))
    assert sorted(c.counts) == [2, 3, 3, 3]
    assert list(c.sources[:4]) == [0, 1, 2, 3]
    assert c.replicas.sum() == 7


def test_extend_and_renew_mark_fresh_units():
    assert UnitMap.extend(2, 4).sources == (0, 1, FRESH, FRESH)
    renewed = UnitMap.renew(4, [1, 3])
    assert renewed.sources == (0, FRESH, 2, FRESH)
    assert renewed.new == renewed.old == 4
    with pytest.raises(ValueError, match="renew"):
        UnitMap.renew(4, [4])


def test_renewing_dead_units_keeps_the_function_and_gives_them_fresh_weights(net):
    """The dead-unit repair: same arithmetic, applied to existing unit indices."""
    rng = np.random.default_rng(0)
    units = UnitMap.renew(3, [1])
    w1 = incoming(net["w1"], UnitAxis(-1), units, Init.ZERO_OUT, 6, rng)
    w2 = outgoing(net["w2"], UnitAxis(0), units, Init.ZERO_OUT, 3, rng)
    b1 = per_unit(net["b1"], units, Init.ZERO_OUT, 0.0)
    assert not np.allclose(w1[:, 1], net["w1"][:, 1])
    assert np.all(w2[1] == 0)
    dead = dict(net, w2=net["w2"].copy())
    dead["w2"][1] = 0  # a dead unit contributes nothing: zero its outgoing weights to compare
    before = mlp(net["x"], dead["w1"], dead["b1"], dead["w2"], dead["b2"])
    np.testing.assert_allclose(mlp(net["x"], w1, b1, w2, net["b2"]), before, atol=1e-12)


@pytest.mark.parametrize("init", [Init.ZERO_OUT, Init.NET2NET])
@pytest.mark.parametrize("channels_last", [True, False])
def test_conv_batchnorm_flatten_dense_keeps_the_function(init, channels_last):
    """A feature map of C channels (a convolution's output, modelled by a per-channel linear
    map of the input), a BatchNorm, ReLU, Flatten and a Dense. Keras flattens channels-last
    (units interleaved), torch channels-first (a contiguous block per unit)."""
    rng = np.random.default_rng(2)
    n, h, w, c, new, out = 5, 3, 2, 3, 7, 4
    x = rng.normal(size=(n, h, w, 2))
    kernel = rng.normal(size=(2, c))  # a 1x1 convolution, Keras layout (..., in, out)
    gamma, beta = rng.normal(size=c), rng.normal(size=c)
    mean, var = rng.normal(size=c), rng.uniform(0.5, 2, size=c)
    dense = rng.normal(size=(h * w * c, out))

    def forward(kernel, gamma, beta, mean, var, dense):
        f = x @ kernel
        f = relu(gamma * (f - mean) / np.sqrt(var + 1e-3) + beta)
        flat = f.reshape(n, -1) if channels_last else f.transpose(0, 3, 1, 2).reshape(n, -1)
        return flat @ dense

    units = units_for(init, c, new, rng)
    k2 = incoming(kernel, UnitAxis(-1), units, init, 2, rng)
    norm = [per_unit(v, units, init, f) for v, f in ((gamma, 1), (beta, 0), (mean, 0), (var, 1))]
    where = UnitAxis(0, block=h * w, inner=channels_last)
    d2 = outgoing(dense, where, units, init, new * h * w, rng)
    assert d2.shape == (h * w * new, out)
    before = forward(kernel, gamma, beta, mean, var, dense)
    np.testing.assert_allclose(forward(k2, *norm, d2), before, atol=1e-12)


def test_torch_layouts_put_units_on_other_axes():
    """torch Linear (out, in): units on axis 0 for the layer, axis 1 for its consumer."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5))
    w1, w2 = rng.normal(size=(3, 5)), rng.normal(size=(2, 3))
    units = UnitMap.replicate(3, 5, rng)
    v1 = incoming(w1, UnitAxis(0), units, Init.NET2NET, 5, rng)
    v2 = outgoing(w2, UnitAxis(1), units, Init.NET2NET, 5, rng)
    np.testing.assert_allclose(relu(x @ v1.T) @ v2.T, relu(x @ w1.T) @ w2.T, atol=1e-12)


def test_noise_touches_only_the_replicas():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(6, 3))
    units = UnitMap.replicate(3, 6, rng)
    grown = grow(kernel, UnitAxis(-1), units)
    noisy = add_noise(grown, UnitAxis(-1), units, 1e-2, rng)
    changed = np.any(noisy != grown, axis=0)
    np.testing.assert_array_equal(changed, units.replicas)
    assert np.max(np.abs(noisy - grown)) < 0.1 * np.std(kernel)
    assert add_noise(grown, UnitAxis(-1), units, 0.0, rng) is grown


def test_grow_checks_the_unit_count():
    with pytest.raises(ValueError, match="expected 4 units"):
        grow(np.zeros((3, 2)), UnitAxis(0), UnitMap.extend(4, 5))


# -- optimizer slots ---------------------------------------------------------------------------


def gradients(x, t, w1, w2):
    """d(0.5 ||relu(x w1) w2 - t||^2) / d(w1, w2)."""
    pre = x @ w1
    h = relu(pre)
    dy = h @ w2 - t
    return x.T @ ((dy @ w2.T) * (pre > 0)), h.T @ dy


def test_net2net_gradients_scale_as_the_moment_remap_assumes():
    """The derivation behind remap_slot: a replica's incoming gradient is 1/k of its source's,
    its outgoing gradient equal to the source's."""
    rng = np.random.default_rng(4)
    x, t = rng.normal(size=(20, 4)), rng.normal(size=(20, 2))
    w1, w2 = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    units = UnitMap.replicate(3, 8, rng)
    v1 = incoming(w1, UnitAxis(-1), units, Init.NET2NET, 4, rng)
    v2 = outgoing(w2, UnitAxis(0), units, Init.NET2NET, 8, rng)
    g1, g2 = gradients(x, t, w1, w2)
    h1, h2 = gradients(x, t, v1, v2)
    k = units.divisors
    np.testing.assert_allclose(h1, g1[:, units.source_array] / k, atol=1e-12)
    np.testing.assert_allclose(h2, g2[units.source_array], atol=1e-12)
    # ... so Adam's moments of the widened net are the remapped ones
    m, v = 0.9 * g1 + 0.1, g1**2 + 0.5  # any state of degree 1 and 2 in the gradients
    m2 = remap_slot(m, Role.INCOMING, UnitAxis(-1), units, Init.NET2NET, Slot(1), np.zeros_like(v1))
    v2_ = remap_slot(
        v, Role.INCOMING, UnitAxis(-1), units, Init.NET2NET, Slot(2), np.zeros_like(v1)
    )
    np.testing.assert_allclose(m2, m[:, units.source_array] / k)
    np.testing.assert_allclose(v2_, v[:, units.source_array] / k**2)
    # the Adam direction m / sqrt(v) of every copy equals its source's
    np.testing.assert_allclose(m2 / np.sqrt(v2_), (m / np.sqrt(v))[:, units.source_array])


def test_remap_slot_per_role_and_init():
    rng = np.random.default_rng(0)
    values = rng.uniform(1, 2, size=(3, 4))  # a consumer kernel (in, out): units on axis 0
    units = UnitMap.replicate(3, 5, rng)
    fresh = np.full((5, 4), 7.0)
    where = UnitAxis(0)
    out = remap_slot(values, Role.OUTGOING, where, units, Init.NET2NET, Slot(2), fresh)
    np.testing.assert_array_equal(out, values[units.source_array])  # gradients unchanged
    ema = remap_slot(values, Role.OUTGOING, where, units, Init.NET2NET, Slot(None, True), fresh)
    np.testing.assert_allclose(ema, values[units.source_array] / units.divisors[:, None])
    assert remap_slot(values, Role.INCOMING, where, units, Init.NET2NET, Slot(None), fresh) is None
    scale_free = remap_slot(values, Role.INCOMING, where, units, Init.NET2NET, Slot(0), fresh)
    np.testing.assert_array_equal(scale_free, values[units.source_array])

    extended = UnitMap.extend(3, 5)
    zero = remap_slot(values, Role.INCOMING, where, extended, Init.ZERO_OUT, Slot(1), fresh)
    np.testing.assert_array_equal(zero[:3], values)
    np.testing.assert_array_equal(zero[3:], 7.0)
    bias = np.arange(4.0)
    kept = remap_slot(bias, Role.CONSUMER_BIAS, UnitAxis(0), extended, Init.ZERO_OUT, Slot(1), bias)
    np.testing.assert_array_equal(kept, bias)
    assert remap_slot(values, Role.INCOMING, where, extended, Init.RANDOM, Slot(1), fresh) is fresh
