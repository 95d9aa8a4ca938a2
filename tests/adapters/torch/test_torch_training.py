"""Data in, training out: checks before training, the epoch loop, its controls and its numbers."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from plateau_cli.adapters.torch.adapter import TorchAdapter  # noqa: E402
from plateau_cli.data.base import ArraySplit, DataBundle, Task  # noqa: E402
from plateau_cli.errors import DataMismatchError, ResourceError  # noqa: E402
from tests.adapters.torch.torch_fixtures import (  # noqa: E402
    N_TRAIN,
    N_VAL,
    Control,
    factory,
    flat_bundle,
    image_bundle,
    load,
    nets,
    save_script,
    trained_mlp,
)

pytestmark = pytest.mark.torch


@pytest.fixture
def mlp_file(tmp_path, digits):
    model, optimizer = trained_mlp(digits)
    path = tmp_path / "ckpt.pt"
    torch.save({"model_state_dict": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
    return path


def test_fit_reports_canonical_metrics_and_stops_when_the_control_says(mlp_file, digits):
    handle = load(mlp_file, model_factory=factory("mlp"))
    bundle = flat_bundle(digits)
    prepared = handle.prepare(bundle, 32, seed=0)
    assert handle.steps_per_epoch(prepared) == -(-N_TRAIN // 32)

    control = Control(stop_after=2)
    handle.fit(prepared, 1, 5, control)
    assert control.begun == [1, 2]
    assert [epoch for epoch, _ in control.epochs] == [1, 2]
    assert set(control.epochs[0][1]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert control.epochs[-1][1]["val_loss"] == pytest.approx(handle.evaluate(prepared)["loss"])

    mid = Control(stop_at_batch=(3, 4))
    handle.fit(prepared, 3, 2, mid)
    assert mid.batches[-1] == (3, 4)
    assert mid.epochs == []  # stopped inside the epoch: no epoch result
    assert handle.steps_by_epoch == [10, 10, 4]  # batches count from 1: stopped after the 4th


def test_the_running_loss_is_the_mean_over_the_epochs_batches(mlp_file, digits):
    handle = load(mlp_file, model_factory=factory("mlp"))
    prepared = handle.prepare(flat_bundle(digits), 32, seed=0)
    seen: list[float] = []

    class Recorder(Control):
        def on_batch_end(self, epoch, batch, logs):
            seen.append(logs["loss"] * batch)  # batches count from 1
            return False

    control = Recorder()
    handle.fit(prepared, 1, 1, control)
    per_batch = np.diff([0.0, *seen])
    assert control.epochs[0][1]["loss"] == pytest.approx(per_batch.mean(), rel=1e-5)


def test_train_transform_touches_training_batches_only(mlp_file, digits):
    handle = load(mlp_file, model_factory=factory("mlp"))
    bundle = flat_bundle(digits)
    seen_train: list[torch.Tensor] = []

    def transform(x, y):
        seen_train.append(x.clone())
        return x + 0.1 * torch.randn_like(x), y

    handle.train_transform = transform
    prepared = handle.prepare(bundle, 32, seed=0)
    val_before = [x.clone() for x, _ in prepared.val]
    baseline = handle.evaluate(prepared)
    assert seen_train == []  # evaluating never transforms
    handle.fit(prepared, 1, 1, Control())
    assert len(seen_train) == handle.steps_by_epoch[0]
    val_after = [x for x, _ in prepared.val]
    assert all(torch.equal(a, b) for a, b in zip(val_before, val_after, strict=True))
    assert torch.equal(torch.cat(val_after), torch.from_numpy(bundle.val.x))
    assert handle.evaluate(prepared)["loss"] != baseline["loss"]


def test_the_same_seed_gives_the_same_numbers(mlp_file, digits):
    def run() -> list[dict[str, float]]:
        TorchAdapter.seed(7)
        handle = load(mlp_file, model_factory=factory("mlp"))
        prepared = handle.prepare(flat_bundle(digits), 32, seed=7)
        control = Control()
        handle.fit(prepared, 1, 2, control)
        return [logs for _, logs in control.epochs]

    first, second = run(), run()
    assert first == second
    TorchAdapter.seed(8)
    handle = load(mlp_file, model_factory=factory("mlp"))
    control = Control()
    handle.fit(handle.prepare(flat_bundle(digits), 32, seed=8), 1, 2, control)
    assert control.epochs[0][1] != first[0]


def test_images_laid_out_nhwc_by_a_reader_are_fed_nchw(tmp_path, digits):
    torch.manual_seed(0)
    model = nets.small_cnn()
    path = tmp_path / "cnn.pt"
    torch.save(model.state_dict(), path)
    handle = load(path, model_factory=factory("small_cnn"))
    assert handle.io_spec().channels_last is False
    assert handle.io_spec().input_shape == (1, None, None)
    nhwc, nchw = image_bundle(digits, "NHWC"), image_bundle(digits, "NCHW")
    handle.check_data(nhwc)
    first = handle.evaluate(handle.prepare(nhwc, 32, 0))
    second = handle.evaluate(handle.prepare(nchw, 32, 0))
    assert first == pytest.approx(second)
    layers = {layer.name: layer.output_shape for layer in handle.describe().layers}
    assert layers == {"0": "(None, 4, 8, 8)", "1": "(None, 4, 8, 8)", "5": "(None, 10)"}


def test_batch_norm_kept_in_eval_mode_keeps_its_statistics(tmp_path, digits):
    torch.manual_seed(0)
    path = tmp_path / "cnn.pt"
    torch.save(nets.small_cnn().state_dict(), path)
    handle = load(path, model_factory=factory("small_cnn"))
    bundle = image_bundle(digits, "NCHW")
    batch_norm = handle.model[1]
    handle.keep_in_eval_mode([batch_norm])
    before = batch_norm.running_mean.clone()
    handle.fit(handle.prepare(bundle, 32, 0), 1, 1, Control())
    assert torch.equal(batch_norm.running_mean, before)
    assert handle.model[0].weight.grad is not None  # the rest trained

    other = load(path, model_factory=factory("small_cnn"))
    other.fit(other.prepare(bundle, 32, 0), 1, 1, Control())
    assert not torch.equal(other.model[1].running_mean, before)


def test_a_trailing_single_sample_batch_is_dropped_for_batch_norm(tmp_path, digits):
    path = tmp_path / "cnn.pt"
    torch.save(nets.small_cnn().state_dict(), path)
    handle = load(path, model_factory=factory("small_cnn"))
    x, y = digits
    images = x.reshape(-1, 1, 8, 8)
    bundle = DataBundle(
        ArraySplit(images[:33], y[:33]), ArraySplit(images[33:40], y[33:40]), "npz", "d"
    )
    prepared = handle.prepare(bundle, 32, 0)
    assert len(prepared.train) == 1
    handle.fit(prepared, 1, 1, Control())
    assert handle.evaluate(prepared, "train")  # evaluation still sees all 33 samples


def test_torchscript_modules_train_without_a_factory(tmp_path, digits):
    torch.manual_seed(0)
    path = tmp_path / "scripted.pt"
    save_script(nets.mlp(), path)
    handle = load(path, trust_pickle=True)  # TorchScript is code: trusted, the test made it
    assert handle.describe().optimizer.name == "Adam"
    before = [p.detach().clone() for p in handle.model.parameters()]
    handle.fit(handle.prepare(flat_bundle(digits), 32, 0), 1, 1, Control())
    assert all(
        not torch.equal(a, b) for a, b in zip(before, handle.model.parameters(), strict=True)
    )


def test_evaluate_weights_the_partial_last_batch(mlp_file, digits):
    handle = load(mlp_file, model_factory=factory("mlp"))
    bundle = flat_bundle(digits)
    full = handle.evaluate(handle.prepare(bundle, N_VAL, 0))
    odd = handle.evaluate(handle.prepare(bundle, 7, 0))  # 120 = 17 x 7 + 1
    assert odd["loss"] == pytest.approx(full["loss"], rel=1e-6)
    assert odd["accuracy"] == pytest.approx(full["accuracy"])


def test_inputs_of_the_wrong_shape_fail_before_training_quoting_both(tmp_path, digits):
    path = tmp_path / "cnn.pt"
    torch.save(nets.small_cnn().state_dict(), path)
    handle = load(path, model_factory=factory("small_cnn"))
    _, y = digits
    # Channels right, spatial size wrong: only the forward pass can tell.
    bad = DataBundle(
        ArraySplit(np.zeros((40, 1, 6, 6), np.float32), y[:40]),
        ArraySplit(np.zeros((8, 1, 6, 6), np.float32), y[40:48]),
        "npz",
        "small.npz",
    )
    with pytest.raises(DataMismatchError) as caught:
        handle.check_data(bad)
    message = str(caught.value)
    assert "samples of shape (1, 6, 6)" in message
    assert "first layer takes (1, ?, ?)" in message
    assert "64" in message
    assert "36" in message


def test_labels_beyond_the_outputs_are_a_data_mismatch(mlp_file, digits):
    handle = load(mlp_file, model_factory=factory("mlp"))
    x, y = digits
    bad = DataBundle(ArraySplit(x[:40], y[:40] + 5), ArraySplit(x[40:50], y[40:50]), "npz", "d")
    with pytest.raises(DataMismatchError, match=r"0\.\.9"):
        handle.check_data(bad)


def test_binary_and_regression_losses_follow_the_labels(tmp_path, digits):
    x, y = digits
    binary = DataBundle(
        ArraySplit(x[:200], (y[:200] > 4).astype(np.int64)),
        ArraySplit(x[200:260], (y[200:260] > 4).astype(np.int64)),
        "npz",
        "b",
    )
    path = tmp_path / "bin.pt"
    torch.save(nets.binary_mlp().state_dict(), path)
    handle = load(path, model_factory=factory("binary_mlp"))
    handle.check_data(binary)
    assert (handle.loss.name, handle.io_spec().task) == ("bce-with-logits", Task.BINARY)
    prepared = handle.prepare(binary, 32, 0)
    with torch.no_grad():
        logits = handle.model(torch.from_numpy(binary.val.x))[:, 0]
    accuracy = ((logits > 0).long() == torch.from_numpy(binary.val.y)).double().mean().item()
    assert handle.evaluate(prepared)["accuracy"] == pytest.approx(accuracy)

    regression = DataBundle(
        ArraySplit(x[:200], x[:200].mean(axis=1)),
        ArraySplit(x[200:260], x[200:260].mean(axis=1)),
        "npz",
        "r",
    )
    path = tmp_path / "reg.pt"
    torch.save(nets.regressor().state_dict(), path)
    handle = load(path, model_factory=factory("regressor"))
    handle.check_data(regression)
    assert (handle.loss.name, handle.io_spec().task) == ("mse", Task.REGRESSION)
    metrics = handle.evaluate(handle.prepare(regression, 32, 0))
    assert set(metrics) == {"loss"}
    with torch.no_grad():
        pred = handle.model(torch.from_numpy(regression.val.x))[:, 0]
    expected = torch.mean((pred - torch.from_numpy(regression.val.y)) ** 2).item()
    assert metrics["loss"] == pytest.approx(expected, rel=1e-5)


def test_a_native_dataloader_passes_through(mlp_file, digits):
    from torch.utils.data import DataLoader, TensorDataset

    x, y = digits
    train = DataLoader(
        TensorDataset(torch.from_numpy(x[:64]), torch.from_numpy(y[:64])), batch_size=16
    )
    val = DataLoader(
        TensorDataset(torch.from_numpy(x[64:96]), torch.from_numpy(y[64:96])), batch_size=16
    )
    bundle = DataBundle(train, val, "entry-point", "data.py:load", framework="torch")
    handle = load(mlp_file, model_factory=factory("mlp"))
    handle.check_data(bundle)
    prepared = handle.prepare(bundle, 32, 0)
    assert handle.steps_per_epoch(prepared) == 4
    control = Control()
    handle.fit(prepared, 1, 1, control)
    assert len(control.batches) == 4


def test_out_of_memory_suggests_a_smaller_batch_size(mlp_file, digits):
    handle = load(mlp_file, model_factory=factory("mlp"))

    def explode(x, y):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    handle.train_transform = explode
    prepared = handle.prepare(flat_bundle(digits), 64, 0)
    with pytest.raises(ResourceError, match="try --batch-size 32"):
        handle.fit(prepared, 1, 1, Control())


def test_snapshot_and_restore_round_trip(mlp_file, digits):
    handle = load(mlp_file, model_factory=factory("mlp"))
    prepared = handle.prepare(flat_bundle(digits), 32, 0)
    snapshot = handle.snapshot()
    before = handle.evaluate(prepared)
    handle.fit(prepared, 1, 1, Control())
    assert handle.evaluate(prepared) != before
    handle.restore(snapshot)
    assert handle.evaluate(prepared) == before


def test_a_dataloader_of_binary_labels_is_shaped_for_the_loss(tmp_path, digits):
    from torch.utils.data import DataLoader, TensorDataset

    x, y = digits
    labels = torch.from_numpy((y > 4).astype(np.int64))
    features = torch.from_numpy(x)
    train = DataLoader(TensorDataset(features[:64], labels[:64]), batch_size=16)
    val = DataLoader(TensorDataset(features[64:96], labels[64:96]), batch_size=16)
    bundle = DataBundle(train, val, "entry-point", "data.py:load", framework="torch")
    path = tmp_path / "bin.pt"
    torch.save(nets.binary_mlp().state_dict(), path)
    handle = load(path, model_factory=factory("binary_mlp"))
    handle.check_data(bundle)
    assert handle.loss.name == "bce-with-logits"
    prepared = handle.prepare(bundle, 16, 0)
    metrics = handle.evaluate(prepared)
    with torch.no_grad():
        logits = handle.model(features[64:96])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, labels[64:96, None].float()
    )
    assert metrics["loss"] == pytest.approx(expected.item(), rel=1e-5)


def test_the_epochs_accuracy_counts_every_batch_when_nobody_reads_it_midway(mlp_file, digits):
    handle = load(mlp_file, model_factory=factory("mlp"))
    labels: list[torch.Tensor] = []
    predictions: list[torch.Tensor] = []

    def keep_labels(x, y):
        labels.append(y)
        return x, y

    handle.train_transform = keep_labels
    hook = handle.model.register_forward_hook(
        lambda module, inputs, output: (
            predictions.append(output.argmax(1)) if module.training else None
        )
    )
    prepared = handle.prepare(flat_bundle(digits), 4, 0)  # 80 batches: counted in two rounds

    class Silent(Control):
        def on_batch_end(self, epoch, batch, logs):
            return False

    control = Silent()
    handle.fit(prepared, 1, 1, control)
    hook.remove()
    hits = (torch.cat(predictions) == torch.cat(labels)).sum().item()
    assert control.epochs[0][1]["accuracy"] == pytest.approx(hits / N_TRAIN)
