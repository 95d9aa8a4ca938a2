"""augment's PyTorch transforms, one at a time: their statistics, shapes, ranges and seeds."""

from types import SimpleNamespace

import numpy as np
import pytest

from plateau_cli.data.base import ArraySplit, DataBundle, Task
from plateau_cli.strategies.augment.options import AugmentOptions
from plateau_cli.strategies.augment.plan import make_plan

torch = pytest.importorskip("torch")
pytest.importorskip("kornia")
augment_torch = pytest.importorskip("plateau_cli.strategies.augment.torch")
losses = pytest.importorskip("plateau_cli.adapters.torch.losses")
training = pytest.importorskip("plateau_cli.adapters.torch.training")
pytestmark = pytest.mark.torch


def _handle(loss="cross-entropy", classes=3, channels_last=True):
    choice = losses.LossChoice(
        loss, Task.CLASSIFICATION, losses.INDEX, losses.ARGMAX, "integer labels"
    )
    io = SimpleNamespace(output_units=classes, channels_last=channels_last)
    return SimpleNamespace(loss=choice, output_tail=(classes,), io_spec=lambda: io)


def _transform(given, x, handle=None, seed=0):
    handle = handle or _handle(channels_last=x.ndim != 4)
    data = DataBundle(ArraySplit(x, np.zeros(len(x))), ArraySplit(x[:2], np.zeros(2)), "npz", "t")
    plan = make_plan(AugmentOptions.from_given(given), x.shape[1:], x.ndim != 4, "torch")
    applied = augment_torch.apply(handle, data, plan, seed)
    assert handle.train_copies == plan.copies
    return handle.train_transform, applied


def test_noise_std_per_feature_is_the_requested_share_of_each_features_spread():
    rng = np.random.default_rng(0)
    spread = np.array([0.0, 0.1, 1.0, 3.0])
    x = (rng.normal(size=(8000, 4)) * spread - 1.0).astype(np.float32)
    transform, applied = _transform({"noise": 2.0}, x)
    y = torch.zeros(8000, dtype=torch.int64)
    out, y_out = transform(torch.from_numpy(x), y)
    added = (out.numpy() - x).astype(np.float64)
    expected = 2.0 * applied.plan.stats.std
    assert added[:, 0].tolist() == [0.0] * 8000
    assert added[:, 1:].std(axis=0) == pytest.approx(expected[1:], rel=0.05)
    assert y_out is y


def test_draws_differ_per_batch_and_repeat_with_the_seed():
    x = np.random.default_rng(1).random((32, 5)).astype(np.float32)
    y = torch.zeros(32, dtype=torch.int64)
    first, _ = _transform({"noise": 1.0}, x, seed=7)
    again, _ = _transform({"noise": 1.0}, x, seed=7)
    a1, a2 = (first(torch.from_numpy(x), y)[0] for _ in range(2))
    b1, b2 = (again(torch.from_numpy(x), y)[0] for _ in range(2))
    assert not torch.equal(a1, a2)
    assert torch.equal(a1, b1)
    assert torch.equal(a2, b2)


def test_mixup_makes_soft_targets_that_sum_to_one_and_match_the_mixed_inputs():
    n, alpha = 4000, 0.4
    labels = torch.from_numpy(np.random.default_rng(2).integers(0, 3, n))
    x = np.stack([np.arange(n), labels.numpy()], axis=1).astype(np.float32)  # the label as input
    transform, applied = _transform({"mixup": alpha}, x)
    assert applied.details == {"mixup_labels": "probabilities"}
    mixed, soft = transform(torch.from_numpy(x), labels)
    assert mixed.shape == (n, 2)
    assert soft.shape == (n, 3)
    assert soft.sum(dim=1).numpy() == pytest.approx(np.ones(n), abs=1e-6)
    assert float(soft.min()) >= 0
    # Inputs and labels mixed with the same lam and partner: the mixed "label feature" is the
    # soft target's mean class.
    mean_class = (soft * torch.arange(3.0)).sum(dim=1)
    assert mixed[:, 1].numpy() == pytest.approx(mean_class.numpy(), abs=1e-5)
    # lam ~ Beta(alpha, alpha), read where the partner has another class.
    distinct = (soft > 0).sum(dim=1) == 2
    lam = soft[torch.arange(n), labels][distinct].numpy()
    assert distinct.float().mean() > 0.5
    assert lam.mean() == pytest.approx(0.5, abs=0.02)
    assert lam.var() == pytest.approx(1 / (4 * (2 * alpha + 1)), rel=0.1)


def test_cross_entropy_on_soft_targets_is_the_mixed_loss_and_accuracy_reads_their_argmax():
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    a, b = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([1, 1, 0, 2, 2, 0])
    lam = torch.tensor([0.9, 0.2, 0.5, 0.7, 0.6, 0.1])
    one_hot = torch.nn.functional.one_hot
    soft = lam[:, None] * one_hot(a, 3) + (1 - lam[:, None]) * one_hot(b, 3)
    ce = torch.nn.functional.cross_entropy
    mixed = (
        lam * ce(logits, a, reduction="none") + (1 - lam) * ce(logits, b, reduction="none")
    ).mean()
    assert float(torch.nn.CrossEntropyLoss()(logits, soft)) == pytest.approx(float(mixed), rel=1e-6)
    objective = training.Objective(torch.nn.CrossEntropyLoss(), losses.ARGMAX, losses.INDEX)
    hard = soft.argmax(1)
    assert int(objective.correct(logits, soft)) == int((logits.argmax(1) == hard).sum())
    assert int(objective.correct(logits, hard)) == int((logits.argmax(1) == hard).sum())


def test_mixup_trains_a_log_softmax_head_with_cross_entropy_giving_the_same_values():
    handle = _handle(loss="nll")
    _, applied = _transform({"mixup": 0.2}, np.zeros((8, 4), np.float32), handle=handle)
    assert handle.loss.name == "cross-entropy"
    assert any("nll -> cross-entropy" in note for note in applied.notes)
    log_probs = torch.log_softmax(torch.randn(5, 4), dim=1)
    target = torch.tensor([0, 3, 1, 2, 2])
    nll = torch.nn.NLLLoss()(log_probs, target)
    assert float(torch.nn.CrossEntropyLoss()(log_probs, target)) == pytest.approx(float(nll))


@pytest.mark.parametrize("channels_last", [False, True])
def test_image_transforms_keep_the_shape_and_the_value_range(channels_last):
    torch.manual_seed(0)
    x = np.random.default_rng(4).random((16, 3, 12, 12)).astype(np.float32) * 255
    if channels_last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    handle = _handle(channels_last=channels_last)
    spec = "rotate=20,shift=0.2,zoom=0.2,contrast=0.5,brightness=0.5"
    plan = make_plan(
        AugmentOptions.from_given({"augment": spec}), x.shape[1:], channels_last, "torch"
    )
    data = DataBundle(ArraySplit(x, np.zeros(16)), ArraySplit(x[:2], np.zeros(2)), "npz", "t")
    applied = augment_torch.apply(handle, data, plan, 0)
    out, _ = handle.train_transform(torch.from_numpy(x), torch.zeros(16, dtype=torch.int64))
    low, high = applied.plan.stats.value_range
    assert high > 200  # the data's own range, not kornia's [0, 1]
    assert out.shape == x.shape
    assert float(out.min()) >= low - 1e-3
    assert float(out.max()) <= high + 1e-3
    assert float((out - torch.from_numpy(x)).abs().mean()) > 0.05 * (high - low)


def test_horizontal_flip_mirrors_some_images_and_leaves_the_others_exactly():
    torch.manual_seed(1)
    x = torch.rand(64, 1, 5, 7)
    transform, _ = _transform({"augment": "flip"}, x.numpy())
    out, _ = transform(x, torch.zeros(64, dtype=torch.int64))
    same = [torch.equal(o, a) for o, a in zip(out, x, strict=True)]
    mirrored = [torch.equal(o, a.flip(-1)) for o, a in zip(out, x, strict=True)]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert 10 < sum(mirrored) < 54


def test_a_dataloader_gets_its_spread_from_its_first_samples():
    x = np.random.default_rng(6).normal(0, [0.5, 2.0], size=(5000, 2)).astype(np.float32)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.zeros(5000))
    loader = torch.utils.data.DataLoader(dataset, batch_size=100)
    bundle = DataBundle(loader, loader, "entry-point", "data.py:load", framework="torch")
    plan = make_plan(AugmentOptions.from_given({"noise": 1.0}), (2,), True, "torch")
    stats = augment_torch.apply(_handle(), bundle, plan, 0).plan.stats
    assert stats.samples == augment_torch.STATS_SAMPLES
    assert stats.std == pytest.approx(x[: stats.samples].std(axis=0), rel=1e-5)
