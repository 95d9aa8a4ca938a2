"""The augment strategy itself: its learning-rate rule, its report, its epoch-1 check, and
picking a continued run up again. A numpy test double stands in for a torch model (only the
torch transform module is exercised, with noise, which needs nothing of the model)."""

import numpy as np
import pytest

from plateau_cli.data.base import ArraySplit, DataBundle
from plateau_cli.errors import UsageError
from plateau_cli.monitor import Monitor
from plateau_cli.strategies import StrategyContext, build_strategy
from tests.fakes import NumpyHandle

pytest.importorskip("torch")
pytest.importorskip("kornia")
pytestmark = pytest.mark.torch


class TorchLike(NumpyHandle):
    framework = "torch"


def _data():
    rng = np.random.default_rng(0)
    x = rng.random((40, 5)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    return DataBundle(ArraySplit(x, y), ArraySplit(x[:10], y[:10]), "npz", "d.npz")


def _context(lr_override=None, seed=0):
    baseline = {"loss": 0.004, "val_loss": 0.3}
    monitor = Monitor.for_metric("val_loss")
    return StrategyContext(monitor, 10, seed, 32, baseline=baseline, lr_override=lr_override)


def test_the_restored_rate_is_lowered_by_the_default_multiplier_and_reported():
    handle = TorchLike(5, 3, lr=0.005)
    outcome = build_strategy("augment", {}).apply(handle, _data(), _context())
    assert handle.learning_rate() == pytest.approx(0.001)
    assert outcome.parameters["lr_mult"] == 0.2
    assert outcome.parameters["lr"] == pytest.approx(0.001)
    assert outcome.parameters["previous_lr"] == 0.005
    assert any(c.startswith("learning rate 0.005 -> 0.001 (x0.2: ") for c in outcome.changes)
    assert handle.train_copies == 4
    assert handle.train_transform is not None
    assert outcome.details["transforms"][0]["name"] == "noise"
    assert dict(outcome.details["training_loss"])["clean"] == 0.004


def test_lr_mult_one_keeps_the_rate():
    handle = TorchLike(5, 3, lr=0.005)
    outcome = build_strategy("augment", {"lr_mult": 1.0}).apply(handle, _data(), _context())
    assert handle.learning_rate() == 0.005
    assert not any(c.startswith("learning rate") for c in outcome.changes)


def test_the_users_lr_wins_and_lr_with_lr_mult_is_refused():
    handle = TorchLike(5, 3, lr=0.002)  # resume.py has already applied --lr 0.002
    outcome = build_strategy("augment", {}).apply(handle, _data(), _context(lr_override=0.002))
    assert handle.learning_rate() == 0.002
    assert outcome.parameters["lr_mult"] is None
    assert "not applied" in next(c for c in outcome.changes if c.startswith("learning rate"))
    with pytest.raises(UsageError, match="give --lr or --lr-mult, not both"):
        build_strategy("augment", {"lr_mult": 0.5}).apply(
            TorchLike(5, 3), _data(), _context(lr_override=0.002)
        )


def test_epoch_one_warns_when_the_augmented_training_loss_stays_near_zero():
    strategy = build_strategy("augment", {"noise": 0.1})
    outcome = strategy.apply(TorchLike(5, 3), _data(), _context())
    events = strategy.on_epoch_end(TorchLike(5, 3), 1, {"loss": 0.006, "val_loss": 0.31})
    assert len(events) == 1
    assert "too weak to change the model" in events[0]
    assert outcome.details["training_loss"]["augmented_epoch_1"] == 0.006
    assert outcome.details["training_loss"]["too_weak"] is True
    assert strategy.on_epoch_end(TorchLike(5, 3), 2, {"loss": 0.001}) == []


def test_a_continued_run_gets_its_transform_back_without_lowering_the_rate_again():
    first = build_strategy("augment", {"copies": 2})
    first.apply(TorchLike(5, 3, lr=0.005), _data(), _context())
    first.on_epoch_end(TorchLike(5, 3), 1, {"loss": 0.4})
    state = first.continuation_state()
    assert state == {
        "training_loss": {
            "clean": 0.004,
            "augmented_epoch_1": 0.4,
            "clean_val_loss": 0.3,
            "too_weak": False,
        }
    }
    reloaded = TorchLike(5, 3, lr=0.001)  # the checkpoint holds the lowered rate
    again = build_strategy("augment", {"copies": 2})
    events = again.reattach(reloaded, _data(), _context(), state, epochs_done=3)
    assert reloaded.learning_rate() == 0.001
    assert reloaded.train_copies == 2
    assert reloaded.train_transform is not None
    assert events == ["augmentation re-established (noise; 2 passes per epoch)"]
    assert dict(again.watch) == state["training_loss"]


def test_the_lower_rate_is_explained_with_the_models_own_losses():
    """Not a canned 'training loss of ~0' for a model that sits at 1.47 (dead units)."""
    monitor = Monitor.for_metric("val_loss")
    stuck = StrategyContext(monitor, 10, 0, 32, baseline={"loss": 1.47, "val_loss": 1.49})
    outcome = build_strategy("augment", {}).apply(TorchLike(5, 3, lr=0.005), _data(), stuck)
    line = next(c for c in outcome.changes if c.startswith("learning rate"))
    assert "training loss 1.47" in line
    assert "~0" not in line
    assert "memorised" not in line
    memorised = build_strategy("augment", {}).apply(TorchLike(5, 3, lr=0.005), _data(), _context())
    line = next(c for c in memorised.changes if c.startswith("learning rate"))
    assert "training loss 0.004 (validation 0.3)" in line
