"""torch: the unfrozen parameters step at exactly `mult` times the head's rate; BatchNorm stays
in eval mode unless --train-bn. The model is `frozen_cnn` loaded through the adapter, with the
head-only optimizer state a user's fine-tuning script saves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from plateau_cli.adapters.base import LoadOptions  # noqa: E402
from plateau_cli.adapters.sniff import sniff_checkpoint  # noqa: E402
from plateau_cli.adapters.torch.adapter import TorchAdapter  # noqa: E402
from plateau_cli.data.base import ArraySplit, DataBundle  # noqa: E402
from plateau_cli.errors import StrategyNotApplicableError  # noqa: E402
from plateau_cli.monitor import Monitor  # noqa: E402
from plateau_cli.strategies import StrategyContext, build_strategy  # noqa: E402
from tests.strategies.unfreeze import models  # noqa: E402

pytestmark = pytest.mark.torch
CONTEXT = StrategyContext(Monitor.for_metric("val_loss", 0.0), 2, 0, 32)
RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 1, 8, 8)).astype("float32")
Y = RNG.integers(0, 10, size=64)
BUNDLE = DataBundle(ArraySplit(X[:48], Y[:48]), ArraySplit(X[48:], Y[48:]), "npz", "x.npz")
FACTORY = f"{models.THIS}:frozen_cnn"


def _checkpoint(path: Path, optimizer: str, everything: bool = False) -> Path:
    torch.manual_seed(0)
    model = models.frozen_cnn()
    params = list(model.parameters() if everything else model.head.parameters())
    make = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
    opt = make(params, lr=0.1)
    model.train()
    torch.nn.functional.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(Y)).backward()
    opt.step()
    torch.save(
        {"model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict()}, path
    )
    return path


def _load(path: Path) -> Any:
    handle = TorchAdapter().load(
        path, sniff_checkpoint(path).format, LoadOptions(model_factory=FACTORY, device="cpu")
    )
    handle.check_data(BUNDLE)
    return handle


class _Control:
    def on_epoch_begin(self, epoch: int) -> None:
        pass

    def on_batch_end(self, epoch: int, batch: int, logs: Any) -> bool:
        return False

    def on_epoch_end(self, epoch: int, logs: Any) -> bool:
        return False


def test_sgd_step_is_exactly_lr_times_mult_for_the_new_group(tmp_path):
    handle = _load(_checkpoint(tmp_path / "c.pt", "sgd"))
    outcome = build_strategy("unfreeze", {"layers": "all"}).apply(handle, BUNDLE, CONTEXT)
    assert outcome.details["unfrozen"] == ["base.4", "base.0"]
    assert outcome.details["kept_in_inference_mode"] == ["base.1"]
    assert [g["lr"] for g in handle.optimizer.param_groups] == pytest.approx([0.1, 0.03])
    model = handle.model
    trains = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trains == {
        "base.0.weight",
        "base.0.bias",
        "base.4.weight",
        "base.4.bias",
        "head.weight",
        "head.bias",
    }
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    handle.optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(Y)).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    handle.optimizer.step()
    assert sorted(grads) == sorted(trains)
    for name, grad in grads.items():
        rate = 0.1 if name.startswith("head") else 0.03
        delta = before[name] - dict(model.named_parameters())[name].detach()
        torch.testing.assert_close(delta, rate * grad, rtol=1e-5, atol=2e-7)


def test_batchnorm_stays_in_eval_mode_and_train_bn_lets_it_train(tmp_path):
    path = _checkpoint(tmp_path / "c.pt", "adam")
    kept = _load(path)
    build_strategy("unfreeze", {"layers": "all"}).apply(kept, BUNDLE, CONTEXT)
    bn = kept.model.base[1]
    stats = bn.running_mean.clone()
    kept.fit(kept.prepare(BUNDLE, 16, 0), 1, 1, _Control())
    torch.testing.assert_close(bn.running_mean, stats, rtol=0, atol=0)
    assert not bn.weight.requires_grad

    trained = _load(path)
    outcome = build_strategy("unfreeze", {"layers": "all", "train_bn": True}).apply(
        trained, BUNDLE, CONTEXT
    )
    assert outcome.details["unfrozen"] == ["base.4", "base.0", "base.1"]
    bn = trained.model.base[1]
    trained.fit(trained.prepare(BUNDLE, 16, 0), 1, 1, _Control())
    assert (bn.running_mean - stats).abs().max() > 1e-3
    assert bn.weight.requires_grad


def test_gradual_with_train_bn_releases_the_batchnorm_when_its_block_unfreezes(tmp_path):
    handle = _load(_checkpoint(tmp_path / "c.pt", "adam"))
    strategy = build_strategy("unfreeze", {"gradual": True, "train_bn": True})
    outcome = strategy.apply(handle, BUNDLE, CONTEXT)
    assert outcome.details["gradual_plan"] == [
        {"epoch": 1, "units": ["base.4"]},
        {"epoch": 2, "units": ["base.0", "base.1"]},
    ]
    bn = handle.model.base[1]
    prepared = handle.prepare(BUNDLE, 16, 0)
    stats = bn.running_mean.clone()
    handle.fit(prepared, 1, 1, _Control())
    torch.testing.assert_close(bn.running_mean, stats, rtol=0, atol=0)  # still frozen
    events = strategy.on_epoch_begin(handle, 2)
    assert events[0].startswith("epoch 2: unfroze base.0, base.1 (96 parameters)")
    assert len(handle.optimizer.param_groups) == 3
    handle.fit(prepared, 2, 1, _Control())
    assert (bn.running_mean - stats).abs().max() > 1e-3
    assert strategy.on_epoch_begin(handle, 3) == []


def test_nothing_frozen_names_what_would_help(tmp_path):
    handle = _load(_checkpoint(tmp_path / "all.pt", "adam", everything=True))
    with pytest.raises(StrategyNotApplicableError) as caught:
        build_strategy("unfreeze", {}).apply(handle, BUNDLE, CONTEXT)
    assert str(caught.value) == (
        "unfreeze does not apply to all.pt: every layer already trains (770 trainable"
        " parameters, none frozen); for a stalled model that trains fully, try --strategy"
        " lr-decay (flat or oscillating loss) or widen (underfitting at a high training loss),"
        " or run `plateau-cli diagnose` on its training log to see which"
    )


def test_a_state_dict_without_optimizer_says_it_cannot_tell_what_was_frozen(tmp_path):
    torch.manual_seed(0)
    torch.save(models.frozen_cnn().state_dict(), tmp_path / "weights.pt")
    handle = _load(tmp_path / "weights.pt")
    with pytest.raises(StrategyNotApplicableError, match="none frozen as far as the file tells"):
        build_strategy("unfreeze", {}).apply(handle, BUNDLE, CONTEXT)


def test_more_layers_than_frozen_blocks_unfreezes_them_all_and_says_so(tmp_path):
    handle = _load(_checkpoint(tmp_path / "c.pt", "adam"))
    outcome = build_strategy("unfreeze", {"layers": "5"}).apply(handle, BUNDLE, CONTEXT)
    assert "--layers 5: c.pt has 2 frozen blocks; all of them" in outcome.changes
    assert outcome.parameters["blocks"] == 2
    assert outcome.details["still_frozen"] == []
    assert outcome.optimizer_state.value == "partial"
