import math

import numpy as np
import pytest

from plateau_cli.monitor import Monitor
from plateau_cli.run.interrupt import InterruptGuard
from plateau_cli.run.trainer import StopReason, Trainer
from plateau_cli.strategies import StrategyContext, build_strategy
from tests.fakes import NumpyHandle, blobs


def _trainer(handle, strategy_name="lr-decay", patience=3, options=None, guard=None, start=None):
    strategy = build_strategy(strategy_name, options or {})
    data = blobs()
    prepared = handle.prepare(data, 32, 0)
    monitor = Monitor.for_metric("val_loss")
    strategy.apply(handle, data, StrategyContext(monitor, 10, 0, 32))
    trainer = Trainer(
        handle,
        strategy,
        monitor,
        patience=patience,
        guard=guard or InterruptGuard(),
        start_value=start,
    )
    return trainer, prepared


def test_runs_every_epoch_and_records_lr():
    handle = NumpyHandle(8, 3, lr=0.5)
    trainer, prepared = _trainer(handle, patience=None)
    state = trainer.run(prepared, 4)
    assert state.stop_reason is StopReason.COMPLETED
    assert [r.epoch for r in state.records] == [1, 2, 3, 4]
    assert all(r.lr == pytest.approx(0.05) for r in state.records)
    assert handle.fit_calls == [(1, 4)]  # one fit call, not one per epoch


def test_early_stopping_restores_best_weights():
    handle = NumpyHandle(8, 3, lr=0.5)
    # Start from a value nothing can beat: every epoch counts as "no improvement".
    trainer, prepared = _trainer(handle, patience=2, start=-1.0)
    state = trainer.run(prepared, 10)
    assert state.stop_reason is StopReason.EARLY_STOPPING
    assert len(state.records) == 2
    assert state.best_epoch == 0
    assert state.restored_best
    # Back to the weights from before training.
    fresh = NumpyHandle(8, 3, lr=0.5)
    np.testing.assert_array_equal(handle.w, fresh.w)


def test_best_epoch_is_kept_when_later_epochs_get_worse():
    handle = NumpyHandle(8, 3, lr=0.5)
    trainer, prepared = _trainer(handle, patience=None)
    state = trainer.run(prepared, 6)
    losses = [r.metrics["val_loss"] for r in state.records]
    assert state.best_epoch == 1 + int(np.argmin(losses))
    assert handle.evaluate(prepared)["loss"] == pytest.approx(min(losses))


def test_non_finite_loss_stops_and_restores():
    handle = NumpyHandle(8, 3, lr=0.5)
    handle.poison_at = 3
    trainer, prepared = _trainer(handle, patience=None)
    state = trainer.run(prepared, 6)
    assert state.stop_reason is StopReason.NON_FINITE
    assert "epoch 3" in state.stop_detail
    assert [r.epoch for r in state.records] == [1, 2]  # the broken epoch is not a result
    assert np.isfinite(handle.w).all()
    assert math.isfinite(handle.evaluate(prepared)["loss"])


def test_interrupt_stops_after_current_batch():
    handle = NumpyHandle(8, 3, lr=0.5)
    guard = InterruptGuard()

    trainer, prepared = _trainer(handle, patience=None, guard=guard)
    original = trainer.on_batch_end

    def on_batch_end(epoch, batch, logs):
        if epoch == 2 and batch == 3:
            guard.request("SIGINT")
        return original(epoch, batch, logs)

    trainer.on_batch_end = on_batch_end
    state = trainer.run(prepared, 5)
    assert state.stop_reason is StopReason.INTERRUPTED
    assert [r.epoch for r in state.records] == [1]
    assert state.restored_best


def test_plateau_schedule_reduces_lr_in_the_loop():
    handle = NumpyHandle(8, 3, lr=0.5)
    trainer, prepared = _trainer(
        handle,
        patience=None,
        options={"schedule": "plateau", "lr_patience": 1, "factor": 0.5},
        start=-1.0,
    )
    # Keep every epoch from improving so the schedule has to react.
    trainer.strategy.schedule.best = -1.0
    state = trainer.run(prepared, 3)
    assert [r.lr for r in state.records] == pytest.approx([0.25, 0.125, 0.0625])
    assert any("learning rate 0.25 -> 0.125" in e for e in state.events)
