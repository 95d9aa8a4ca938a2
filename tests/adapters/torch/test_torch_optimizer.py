"""The optimizer comes back as it was: class, hyper-parameters, moments, step, frozen parts."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

from plateau_cli.adapters.base import LoadOptions, OptimizerState  # noqa: E402
from plateau_cli.adapters.torch.optimizer import OPTIMIZERS, build_optimizer, infer_class  # noqa: E402
from plateau_cli.errors import UsageError  # noqa: E402
from tests.adapters.torch.torch_fixtures import (  # noqa: E402
    N_TRAIN,
    Control,
    factory,
    flat_bundle,
    image_bundle,
    load,
    nets,
    train_plain,
    trained_mlp,
)

pytestmark = pytest.mark.torch

_KWARGS = {"SGD": {"momentum": 0.9}, "Adafactor": {}}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS.values()))
def test_the_class_is_read_back_from_the_saved_param_groups(name, digits):
    model = nets.mlp()
    optimizer = getattr(torch.optim, name)(model.parameters(), lr=0.01, **_KWARGS.get(name, {}))
    x, y = digits
    train_plain(model, optimizer, x[:64], y[:64])
    inferred, _ = infer_class(optimizer.state_dict())
    assert inferred == name

    rebuilt = build_optimizer(model, optimizer.state_dict(), LoadOptions(), torch.device("cpu"))
    assert type(rebuilt.optimizer).__name__ == name
    assert rebuilt.state is OptimizerState.RESTORED


def test_adam_without_the_decoupled_flag_is_a_said_guess():
    groups = [
        {
            "lr": 0.1,
            "betas": (0.9, 0.999),
            "eps": 1e-8,
            "weight_decay": 0.01,
            "amsgrad": False,
            "params": [0],
        }
    ]
    name, why = infer_class({"state": {}, "param_groups": groups})
    assert name == "AdamW"
    assert "pass --optimizer adam or adamw" in why


def test_moments_and_step_continue_after_restore(tmp_path, digits):
    model, optimizer = trained_mlp(digits)
    saved = copy.deepcopy(optimizer.state_dict())  # torch shares `step` tensors on load
    path = tmp_path / "ckpt.pt"
    torch.save({"model_state_dict": model.state_dict(), "optimizer_state_dict": saved}, path)

    handle = load(path, model_factory=factory("mlp"))
    restored = handle.optimizer.state_dict()
    for pid, state in saved["state"].items():
        assert torch.equal(restored["state"][pid]["exp_avg"], state["exp_avg"])
        assert torch.equal(restored["state"][pid]["exp_avg_sq"], state["exp_avg_sq"])
        assert float(restored["state"][pid]["step"]) == float(state["step"])
    info = handle.describe().optimizer
    assert info.iterations == -(-N_TRAIN // 32)
    assert info.learning_rate == 0.01

    # One more training step continues from the saved step and moments, as the original would.
    bundle = flat_bundle(digits)
    prepared = handle.prepare(bundle, N_TRAIN, seed=0)  # one batch = one step
    handle.fit(prepared, 1, 1, Control())
    expected_model, expected_opt = nets.mlp(), None
    expected_model.load_state_dict(model.state_dict())
    expected_opt = torch.optim.Adam(expected_model.parameters(), lr=0.01)
    expected_opt.load_state_dict(copy.deepcopy(saved))
    order = torch.randperm(N_TRAIN, generator=torch.Generator().manual_seed(0))
    x, y = torch.from_numpy(bundle.train.x)[order], torch.from_numpy(bundle.train.y)[order]
    expected_opt.zero_grad()
    torch.nn.functional.cross_entropy(expected_model(x), y).backward()
    expected_opt.step()
    after = handle.optimizer.state_dict()["state"]
    for pid in saved["state"]:
        assert float(after[pid]["step"]) == float(saved["state"][pid]["step"]) + 1
        assert torch.allclose(
            after[pid]["exp_avg"], expected_opt.state_dict()["state"][pid]["exp_avg"], atol=1e-7
        )
    for ours, theirs in zip(handle.model.parameters(), expected_model.parameters(), strict=True):
        assert torch.allclose(ours, theirs, atol=1e-6)

    out = tmp_path / "out.pt"
    handle.save(out, epochs_done=1)
    written = torch.load(out, weights_only=True)["optimizer_state_dict"]
    assert float(written["state"][0]["step"]) == float(saved["state"][0]["step"]) + 1


def test_a_frozen_base_stays_frozen_and_inspect_shows_it(tmp_path, digits):
    torch.manual_seed(0)
    model = nets.base_and_head()
    for p in model.base.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.SGD(model.head.parameters(), lr=0.05, momentum=0.9)
    bundle = image_bundle(digits, layout="NCHW")
    train_plain(model, optimizer, bundle.train.x, bundle.train.y)
    path = tmp_path / "finetune.pt"
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 4}, path)

    handle = load(path, model_factory=factory("base_and_head"))
    assert handle.optimizer_state is OptimizerState.RESTORED
    assert type(handle.optimizer).__name__ == "SGD"
    description = handle.describe()
    base_params = sum(p.numel() for p in model.base.parameters())
    assert description.frozen_params == base_params
    assert description.trainable_params == sum(p.numel() for p in model.head.parameters())
    frozen_layers = {layer.name for layer in description.layers if layer.trainable is False}
    assert frozen_layers == {"base.0", "base.1"}
    assert description.extra["frozen_parameters"] == [
        "base.0.weight",
        "base.0.bias",
        "base.1.weight",
        "base.1.bias",
    ]
    assert any("stay frozen" in note for note in description.notes)

    base_before = {k: v.detach().clone() for k, v in handle.model.base.named_parameters()}
    head_before = handle.model.head.weight.detach().clone()
    prepared = handle.prepare(bundle, 32, seed=0)
    handle.fit(prepared, 1, 1, Control())
    for key, value in handle.model.base.named_parameters():
        assert torch.equal(value, base_before[key]), key
    assert not torch.equal(handle.model.head.weight, head_before)
    momentum = handle.optimizer.state_dict()["state"][0]["momentum_buffer"]
    assert momentum.shape == model.head.weight.shape


def test_set_learning_rate_keeps_state_and_the_ratios_of_groups(tmp_path, digits):
    model = nets.mlp()
    # Discriminative rates, head group first: the groups are out of the model's order.
    optimizer = torch.optim.Adam(
        [
            {"params": model[2].parameters(), "lr": 0.01},
            {"params": model[0].parameters(), "lr": 0.001},
        ]
    )
    x, y = digits
    train_plain(model, optimizer, x[:64], y[:64])
    path = tmp_path / "ckpt.pt"
    torch.save({"model_state_dict": model.state_dict(), "optimizer": optimizer.state_dict()}, path)

    handle = load(path, model_factory=factory("mlp"))
    assert handle.optimizer_state is OptimizerState.RESTORED
    groups = handle.optimizer.param_groups
    assert [p.shape for p in groups[0]["params"]] == [(10, 4), (10,)]
    moments = {k: v["exp_avg"].clone() for k, v in handle.optimizer.state_dict()["state"].items()}
    assert torch.equal(moments[0], optimizer.state_dict()["state"][0]["exp_avg"])

    note = handle.set_learning_rate(0.002)
    assert [g["lr"] for g in groups] == pytest.approx([0.002, 0.0002])
    assert note is not None
    assert "keeping their ratios" in note
    assert handle.learning_rate() == pytest.approx(0.002)
    for k, v in handle.optimizer.state_dict()["state"].items():
        assert torch.equal(v["exp_avg"], moments[k])
    info = handle.describe().optimizer
    assert info.hyperparameters["group_learning_rates"] == pytest.approx([0.002, 0.0002])


def test_no_optimizer_state_means_a_new_one_said_so(tmp_path, digits):
    model, _ = trained_mlp(digits)
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    handle = load(path, model_factory=factory("mlp"), optimizer="sgd", lr=0.05)
    info = handle.describe().optimizer
    assert (info.name, info.learning_rate, info.state) == ("SGD", 0.05, OptimizerState.ABSENT)
    assert "no optimizer state in the file" in (info.detail or "")

    default = load(path, model_factory=factory("mlp")).describe().optimizer
    assert (default.name, default.learning_rate) == ("Adam", 1e-3)
    with pytest.raises(UsageError, match="--optimizer must be one of"):
        load(path, model_factory=factory("mlp"), optimizer="lion")


def test_another_optimizer_than_the_saved_one_starts_from_zero(tmp_path, digits):
    model, optimizer = trained_mlp(digits)
    path = tmp_path / "ckpt.pt"
    torch.save(
        {"model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict()},
        path,
    )
    handle = load(path, model_factory=factory("mlp"), optimizer="SGD")
    assert handle.optimizer_state is OptimizerState.SKIPPED
    assert handle.learning_rate() == 0.01
    assert "Adam's" in (handle.optimizer_detail or "")


def test_a_saved_state_that_fits_no_parameters_is_skipped_not_crashed(tmp_path, digits):
    model, _ = trained_mlp(digits)
    x = torch.zeros(2, 1, 8, 8)
    cnn = nets.small_cnn()
    alien = torch.optim.Adam(cnn.parameters())
    cnn.train()
    torch.nn.functional.cross_entropy(cnn(x), torch.zeros(2, dtype=torch.long)).backward()
    alien.step()
    path = tmp_path / "ckpt.pt"
    torch.save(
        {"model_state_dict": model.state_dict(), "optimizer_state_dict": alien.state_dict()}, path
    )
    handle = load(path, model_factory=factory("mlp"))
    assert handle.optimizer_state is OptimizerState.SKIPPED
    assert "does not fit" in (handle.optimizer_detail or "")


def test_restored_state_follows_the_parameters_dtype_and_device(digits):
    """load_state_dict casts each state tensor with .to(dtype=param.dtype, device=param.device)
    (and leaves Adam's `step` on the CPU): shown here with float64 parameters; the CUDA test
    below shows the device half where a GPU exists."""
    model, optimizer = trained_mlp(digits)
    saved = copy.deepcopy(optimizer.state_dict())
    model.double()
    setup = build_optimizer(model, saved, LoadOptions(), torch.device("cpu"))
    state = setup.optimizer.state_dict()["state"][0]
    assert state["exp_avg"].dtype == torch.float64
    assert state["step"].dtype == torch.float32


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_model_and_optimizer_state_move_to_cuda_together(tmp_path, digits):
    model, optimizer = trained_mlp(digits)
    path = tmp_path / "ckpt.pt"
    torch.save({"model_state_dict": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    handle = load(path, model_factory=factory("mlp"), device="cuda")
    assert all(p.device.type == "cuda" for p in handle.model.parameters())
    for state in handle.optimizer.state.values():
        assert state["exp_avg"].device.type == "cuda"
        assert state["step"].device.type == "cpu"
    prepared = handle.prepare(flat_bundle(digits), 32, 0)
    handle.fit(prepared, 1, 1, Control())
    out = tmp_path / "out.pt"
    handle.save(out, epochs_done=1)
    written = torch.load(out, weights_only=True)  # written on the CPU: no map_location needed
    assert written["model_state_dict"]["0.weight"].device.type == "cpu"
