"""widen on torch modules at adapter level: the traced graph, the modules replaced in place,
outputs kept, the optimizer rebuilt with its state remapped (or restarted) per parameter, and
the refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from plateau_cli.adapters.base import LoadOptions, OptimizerState  # noqa: E402
from plateau_cli.adapters.sniff import sniff_checkpoint  # noqa: E402
from plateau_cli.adapters.torch.adapter import TorchAdapter  # noqa: E402
from plateau_cli.adapters.torch.loading import quiet_jit_deprecation  # noqa: E402
from plateau_cli.data.base import ArraySplit, DataBundle  # noqa: E402
from plateau_cli.errors import StrategyNotApplicableError  # noqa: E402
from plateau_cli.monitor import Monitor  # noqa: E402
from plateau_cli.strategies import StrategyContext, build_strategy  # noqa: E402
from plateau_cli.strategies.widen import torch_graph  # noqa: E402
from tests.strategies.widen import torch_nets  # noqa: E402

pytestmark = pytest.mark.torch
NETS = Path(torch_nets.__file__)
CONTEXT = StrategyContext(Monitor.for_metric("val_loss", 0.0), epochs=1, seed=0, batch_size=32)


def vectors(n: int = 96) -> DataBundle:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = ((x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)).astype(np.int64)
    return DataBundle(ArraySplit(x[:64], y[:64]), ArraySplit(x[64:], y[64:]), "npz", "v.npz")


def images(n: int = 96) -> DataBundle:
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(n, 1, 6, 6)).astype(np.float32)
    y = (x[:, :, :3].mean((1, 2, 3)) > 0.5).astype(np.int64) + (
        x[:, :, :, :3].mean((1, 2, 3)) > 0.5
    )
    return DataBundle(ArraySplit(x[:64], y[:64]), ArraySplit(x[64:], y[64:]), "npz", "i.npz")


def handle_for(factory: str, data: DataBundle, tmp_path: Path, epochs: int = 2, sgd: bool = False):
    """Train with Adam (so the optimizer holds moments), save a checkpoint dict, load it."""
    torch.manual_seed(0)
    model = getattr(torch_nets, factory)()
    if sgd:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    x, y = torch.from_numpy(data.train.x), torch.from_numpy(data.train.y)
    for _ in range(epochs):
        for start in range(0, len(x), 32):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(
                model(x[start : start + 32]), y[start : start + 32]
            ).backward()
            optimizer.step()
    path = tmp_path / "checkpoint.pt"
    state = {"model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict()}
    torch.save(state, path)
    options = LoadOptions(model_factory=f"{NETS}:{factory}")
    handle = TorchAdapter().load(path, sniff_checkpoint(path).format, options)
    handle.check_data(data)
    return handle


def widen(handle, data, **given):
    return build_strategy("widen", given).apply(handle, data, CONTEXT)


def outputs(model, data):
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(data.val.x)).numpy()


def state_of(optimizer, param):
    return {k: v.clone() for k, v in optimizer.state[param].items()}


def one_step(handle, data):
    """The rebuilt optimizer must take a step over the new shapes."""
    handle.model.train()
    handle.optimizer.zero_grad()
    x, y = torch.from_numpy(data.train.x[:32]), torch.from_numpy(data.train.y[:32])
    torch.nn.functional.cross_entropy(handle.model(x), y).backward()
    handle.optimizer.step()


def test_zero_out_keeps_outputs_and_restarts_only_the_touched_layers(tmp_path):
    data = vectors()
    handle = handle_for("deep_mlp", data, tmp_path)
    model = handle.model
    before = outputs(model, data)
    first = model[0].weight
    kept = state_of(handle.optimizer, first)
    outcome = widen(handle, data)
    assert outcome.details["layer"] == "2"
    assert outcome.details["consumer"] == "4"
    assert (model[2].out_features, model[4].in_features) == (8, 8)
    assert np.max(np.abs(outputs(model, data) - before)) <= 1e-6
    assert outcome.details["max_output_change_before_noise"] <= 1e-6
    assert outcome.details["params_after"] - outcome.details["params_before"] == 4 * (16 + 1 + 3)
    optimizer = handle.optimizer
    assert model[0].weight is first
    after = optimizer.state[first]
    assert set(after) == set(kept)
    for key, value in kept.items():
        torch.testing.assert_close(after[key], value, rtol=0, atol=0)  # untouched: as it was
    assert not optimizer.state.get(model[2].weight)  # restarts at step 0: bias correction
    assert outcome.optimizer_state is OptimizerState.PARTIAL
    assert handle.optimizer_state is OptimizerState.PARTIAL
    assert "state restarts at step 0" in outcome.optimizer_detail
    assert "the step count continues for the untouched layers from 4" in outcome.optimizer_detail
    assert "--factory-arg hidden=8" in outcome.changes[-1]
    one_step(handle, data)
    assert float(optimizer.state[first]["step"]) == 5
    assert float(optimizer.state[model[2].weight]["step"]) == 1


def test_net2net_remaps_moments_and_the_step_continues(tmp_path):
    data = vectors()
    handle = handle_for("deep_mlp", data, tmp_path)
    model = handle.model
    before = outputs(model, data)
    old_in = state_of(handle.optimizer, model[2].weight)
    old_out = state_of(handle.optimizer, model[4].weight)
    outcome = widen(handle, data, init="net2net", noise=0.0)
    assert np.max(np.abs(outputs(model, data) - before)) <= 1e-5
    state = handle.optimizer.state
    new_in, new_out = state[model[2].weight], state[model[4].weight]
    assert float(new_in["step"]) == float(old_in["step"]) == 4
    # x2: every unit a pair (k = 2); units 0-3 keep their index
    torch.testing.assert_close(new_in["exp_avg"][:4], old_in["exp_avg"] / 2)
    torch.testing.assert_close(new_in["exp_avg_sq"][:4], old_in["exp_avg_sq"] / 4)
    torch.testing.assert_close(new_out["exp_avg"][:, :4], old_out["exp_avg"])
    assert outcome.optimizer_state is OptimizerState.REMAPPED
    one_step(handle, data)


def test_sgd_momentum_is_remapped_in_place(tmp_path):
    """No bias correction to protect: existing units keep their momentum, new ones start at 0."""
    data = vectors()
    handle = handle_for("deep_mlp", data, tmp_path, sgd=True)
    model = handle.model
    old_in = state_of(handle.optimizer, model[2].weight)["momentum_buffer"]
    old_out = state_of(handle.optimizer, model[4].weight)["momentum_buffer"]
    outcome = widen(handle, data)
    assert isinstance(handle.optimizer, torch.optim.SGD)
    assert handle.optimizer.param_groups[0]["momentum"] == 0.9
    new_in = handle.optimizer.state[model[2].weight]["momentum_buffer"]
    new_out = handle.optimizer.state[model[4].weight]["momentum_buffer"]
    torch.testing.assert_close(new_in[:4], old_in, rtol=0, atol=0)
    assert torch.all(new_in[4:] == 0)
    torch.testing.assert_close(new_out[:, :4], old_out, rtol=0, atol=0)
    assert torch.all(new_out[:, 4:] == 0)
    assert outcome.optimizer_state is OptimizerState.REMAPPED
    one_step(handle, data)


@pytest.mark.parametrize("init", ["zero-out", "net2net"])
def test_conv_batchnorm_flatten_linear(tmp_path, init):
    data = images()
    handle = handle_for("cnn", data, tmp_path)
    model = handle.model
    before = outputs(model, data)
    given = {"init": init, "noise": 0.0} if init == "net2net" else {}
    outcome = widen(handle, data, **given)
    assert outcome.details["widened_alongside"] == ["1"]
    assert outcome.details["inputs_per_unit"] == 9
    assert (model[0].out_channels, model[1].num_features, model[5].in_features) == (6, 6, 54)
    assert np.max(np.abs(outputs(model, data) - before)) <= 1e-5
    one_step(handle, data)


def test_a_custom_forward_with_view_is_followed(tmp_path):
    data = images()
    handle = handle_for("view_net", data, tmp_path)
    before = outputs(handle.model, data)
    outcome = widen(handle, data, units=5)
    assert outcome.details["layer"] == "conv"
    assert outcome.details["inputs_per_unit"] == 16
    assert handle.model.head.in_features == 80
    assert np.max(np.abs(outputs(handle.model, data) - before)) <= 1e-6


@pytest.mark.parametrize(
    ("factory", "layer", "message"),
    [
        ("residual", "fc1", "cannot widen fc1 (Linear): relu's output feeds 2 layers (fc2, add)"),
        ("shared", "twice", "cannot widen twice (Linear): it is shared (called at 2 places)"),
        ("deep_mlp", "4", "cannot widen 4 (Linear): it is an output layer"),
        ("branchy", None, "cannot follow Branchy.forward with torch.fx"),
    ],
)
def test_refusals(tmp_path, factory, layer, message):
    data = vectors()
    handle = handle_for(factory, data, tmp_path, epochs=1)
    model = handle.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    given = {"layer": layer} if layer else {}
    with pytest.raises(
        StrategyNotApplicableError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        widen(handle, data, **given)
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_torchscript_is_refused():
    with quiet_jit_deprecation():
        scripted = torch.jit.script(torch_nets.deep_mlp())
    with pytest.raises(StrategyNotApplicableError, match="TorchScript archive cannot be widened"):
        torch_graph.read_graph(scripted, torch.zeros(2, 8))
