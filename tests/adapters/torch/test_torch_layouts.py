"""Every layout: load -> evaluate matches an independent evaluation -> train -> save in the same
layout -> plain torch loads it as the user's script would, with the epoch advanced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

from plateau_cli.adapters.base import OptimizerState  # noqa: E402
from plateau_cli.errors import BadInputError  # noqa: E402
from tests.adapters.torch.torch_fixtures import (  # noqa: E402
    N_TRAIN,
    Control,
    evaluate_plain,
    factory,
    flat_bundle,
    lightning_checkpoint,
    load,
    load_script,
    nets,
    save_script,
    trained_mlp,
)

pytestmark = pytest.mark.torch


def _write(kind: str, path: Path, model: torch.nn.Module, optimizer: Any) -> None:
    if kind == "torch-checkpoint-dict":
        torch.save(
            {
                "epoch": 3,
                "model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(),
                "loss": 0.61,
            },
            path,
        )
    elif kind == "alternative-keys":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5)
        torch.save(
            {
                "net": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "epoch": 3,
                "best_acc": np.float64(0.5),
            },
            path,
        )
    elif kind == "lightning-ckpt":
        torch.save(lightning_checkpoint(model, optimizer, epoch=3, global_step=30), path)
    elif kind == "torch-state-dict":
        torch.save(model.state_dict(), path)
    elif kind == "safetensors":
        safetensors_torch.save_file(model.state_dict(), str(path), metadata={"source": "test"})
    elif kind == "torchscript":
        save_script(model, path)
    else:
        raise AssertionError(kind)


CASES = {
    # layout written -> (file name, format the adapter reports, optimizer state, epoch key)
    "torch-checkpoint-dict": ("ckpt.pt", "torch-checkpoint-dict", OptimizerState.RESTORED, "epoch"),
    "alternative-keys": ("ckpt.pth", "torch-checkpoint-dict", OptimizerState.RESTORED, "epoch"),
    "lightning-ckpt": ("last.ckpt", "lightning-ckpt", OptimizerState.RESTORED, "epoch"),
    "torch-state-dict": ("weights.pt", "torch-state-dict", OptimizerState.ABSENT, None),
    "safetensors": ("model.safetensors", "safetensors", OptimizerState.ABSENT, None),
    "torchscript": ("scripted.pt", "torchscript", OptimizerState.ABSENT, None),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_every_layout_loads_trains_and_saves_in_its_own_layout(tmp_path, digits, kind):
    name, fmt, opt_state, epoch_key = CASES[kind]
    model, optimizer = trained_mlp(digits)
    path = tmp_path / name
    _write(kind, path, model, optimizer)
    before = path.read_bytes()
    # TorchScript is code: loaded only when trusted (the test made the file itself).
    options = {"trust_pickle": True} if kind == "torchscript" else {"model_factory": factory("mlp")}

    handle = load(path, **options)
    assert handle.format == fmt
    assert handle.optimizer_state is opt_state
    bundle = flat_bundle(digits)
    handle.check_data(bundle)
    prepared = handle.prepare(bundle, 32, seed=0)
    loss, accuracy = evaluate_plain(model, bundle.val.x, bundle.val.y)
    metrics = handle.evaluate(prepared, "val")
    assert metrics["loss"] == pytest.approx(loss, rel=1e-5)
    assert metrics["accuracy"] == pytest.approx(accuracy)

    handle.fit(prepared, 1, 2, Control())
    out = tmp_path / "out" / handle.checkpoint_name()
    handle.save(out, epochs_done=2)
    assert path.read_bytes() == before  # the input is never touched

    reloaded = _reload_like_the_user(kind, out)
    assert _eval_written(kind, reloaded, bundle) == pytest.approx(
        handle.evaluate(prepared, "val")["loss"], rel=1e-5
    )
    if kind in {"torch-checkpoint-dict", "alternative-keys", "lightning-ckpt"}:
        original = torch.load(path, weights_only=False)
        assert list(reloaded) == list(original)  # same keys, same order
        assert reloaded[epoch_key] == original[epoch_key] + 2
    if kind == "lightning-ckpt":
        steps = 2 * -(-N_TRAIN // 32)
        assert reloaded["global_step"] == 30 + steps
        assert list(reloaded["state_dict"]) == list(original["state_dict"])
        assert reloaded["loops"]["fit_loop"]["epoch_progress"]["total"]["completed"] == 5
        assert reloaded["callbacks"] == original["callbacks"]
        saved_steps = reloaded["optimizer_states"][0]["state"][0]["step"]
        assert int(saved_steps) == int(original["optimizer_states"][0]["state"][0]["step"]) + steps
    if kind == "alternative-keys":
        assert reloaded["scheduler"] == original["scheduler"]
        assert reloaded["best_acc"] == 0.5


def _reload_like_the_user(kind: str, path: Path) -> Any:
    if kind == "safetensors":
        return safetensors_torch.load_file(str(path))
    if kind == "torchscript":
        return load_script(path)
    # The alternative layout stores np.float64 beside the weights, as the input did.
    return torch.load(path, weights_only=kind != "alternative-keys")


def _eval_written(kind: str, reloaded: Any, bundle: Any) -> float:
    if kind == "torchscript":
        model = reloaded
    else:
        model = nets.mlp()
        state = {
            "torch-checkpoint-dict": lambda: reloaded["model_state_dict"],
            "alternative-keys": lambda: reloaded["net"],
            "lightning-ckpt": lambda: {
                k.removeprefix("model."): v for k, v in reloaded["state_dict"].items()
            },
        }.get(kind, lambda: reloaded)()
        model.load_state_dict(state)
    return evaluate_plain(model, bundle.val.x, bundle.val.y)[0]


def test_safetensors_keeps_its_header_metadata(tmp_path, digits):
    model, optimizer = trained_mlp(digits)
    path = tmp_path / "model.safetensors"
    _write("safetensors", path, model, optimizer)
    handle = load(path, model_factory=factory("mlp"))
    out = tmp_path / "out.safetensors"
    handle.save(out, epochs_done=0)
    from safetensors import safe_open

    with safe_open(str(out), framework="pt") as fh:
        assert fh.metadata() == {"source": "test"}
    notes = " ".join(handle.describe().notes)
    assert "holds no optimizer state" in notes


def test_prefixes_are_stripped_and_entries_outside_the_model_kept(tmp_path, digits):
    model, optimizer = trained_mlp(digits)
    ckpt = lightning_checkpoint(model, optimizer, epoch=0, global_step=10)
    ckpt["state_dict"]["criterion.weight"] = torch.ones(10)  # a loss module's buffer
    path = tmp_path / "x.ckpt"
    torch.save(ckpt, path)
    handle = load(path, model_factory=factory("mlp"))
    extra = handle.describe().extra
    assert extra["state_dict_prefix"] == "model."
    assert extra["entries_outside_the_model"] == ["criterion.weight"]
    assert extra["lightning_version"] == "2.4.0"
    assert (extra["checkpoint_epoch"], extra["global_step"]) == (0, 10)
    assert extra["optimizer_entry"] == "optimizer_states"
    out = tmp_path / "out.ckpt"
    handle.save(out, epochs_done=1)
    written = torch.load(out, weights_only=True)
    assert torch.equal(written["state_dict"]["criterion.weight"], torch.ones(10))
    assert written["epoch"] == 1


def test_dataparallel_prefix_in_a_bare_state_dict(tmp_path, digits):
    model, _ = trained_mlp(digits)
    path = tmp_path / "dp.pt"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    handle = load(path, model_factory=factory("mlp"))
    out = tmp_path / "out.pt"
    handle.save(out, epochs_done=1)
    assert list(torch.load(out, weights_only=True)) == [f"module.{k}" for k in model.state_dict()]


def test_weights_for_another_architecture_name_the_first_mismatches(tmp_path, digits):
    model, _ = trained_mlp(digits, hidden=4)
    path = tmp_path / "ckpt.pt"
    torch.save({"model_state_dict": model.state_dict(), "epoch": 1}, path)
    with pytest.raises(BadInputError) as caught:
        load(path, model_factory=factory("mlp"), factory_args={"hidden": 8})
    message = str(caught.value)
    assert "0.weight: checkpoint (4, 64) vs model (8, 64)" in message
    assert "3 with other shapes" in message  # 0.weight, 0.bias, 2.weight
    assert "--factory-arg" in message
    assert "\n" not in message

    with pytest.raises(BadInputError) as caught:
        load(path, model_factory=factory("small_cnn"))
    message = str(caught.value)
    assert "0.weight: checkpoint (4, 64) vs model (4, 1, 3, 3)" in message
    assert "6 missing from the checkpoint (1.weight (4,), 1.bias (4,)" in message
    assert "2 not in the model (2.weight, 2.bias)" in message


def test_a_dict_without_weights_is_refused_with_its_keys(tmp_path):
    path = tmp_path / "odd.pt"
    torch.save({"epoch": 3, "note": "nothing here"}, path)
    with pytest.raises(BadInputError, match="entries epoch, note, none of which holds"):
        load(path, model_factory=factory("mlp"))


def test_a_trusted_checkpoint_dict_holding_the_module_object(tmp_path, digits):
    model, optimizer = trained_mlp(digits)
    path = tmp_path / "whole.pt"
    torch.save({"model": model, "optimizer": optimizer.state_dict(), "epoch": 2}, path)
    handle = load(path, trust_pickle=True)
    assert handle.optimizer_state is OptimizerState.RESTORED
    out = tmp_path / "out.pt"
    handle.save(out, epochs_done=1)
    written = torch.load(out, weights_only=False)
    assert isinstance(written["model"], torch.nn.Module)
    assert written["epoch"] == 3


def test_batch_norm_weights_from_before_num_batches_tracked_still_load(tmp_path):
    torch.manual_seed(0)
    model = nets.small_cnn()
    old = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.pt"
    torch.save(old, path)
    handle = load(path, model_factory=factory("small_cnn"))
    assert torch.equal(handle.model[1].running_var, model[1].running_var)
