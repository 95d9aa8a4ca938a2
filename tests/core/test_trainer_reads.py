"""The trainer reads the running metrics a few times a second, never per batch.

Reading a device value is a synchronisation; these tests count reads with a clock that the test
moves, so nothing depends on how fast the machine is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from plateau_cli.monitor import Monitor
from plateau_cli.observer import Observer
from plateau_cli.run.interrupt import InterruptGuard
from plateau_cli.run.trainer import StopReason, Trainer
from plateau_cli.strategies import build_strategy
from tests.fakes import NumpyHandle


class CountingLogs(Mapping[str, float]):
    """Running metrics whose every read is counted (each would be a device sync)."""

    def __init__(self, loss: float = 0.5) -> None:
        self.loss = loss
        self.reads = 0

    def __getitem__(self, key: str) -> float:
        self.reads += 1
        return {"loss": self.loss, "accuracy": 0.9}[key]

    def __iter__(self) -> Iterator[str]:
        return iter(("loss", "accuracy"))

    def __len__(self) -> int:
        return 2


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class BarObserver(Observer):
    wants_batches = True

    def __init__(self) -> None:
        self.shown: list[tuple[int, int, dict]] = []

    def on_batch_end(self, epoch, batch, logs):
        self.shown.append((epoch, batch, dict(logs)))


def _trainer(clock: Clock, observer: Observer | None = None, guard=None) -> Trainer:
    return Trainer(
        NumpyHandle(8, 3, lr=0.5),
        build_strategy("lr-decay", {}),
        Monitor.for_metric("val_loss"),
        patience=None,
        guard=guard or InterruptGuard(),
        observer=observer,
        clock=clock,
    )


def test_no_read_while_the_clock_stands_still():
    clock = Clock()
    trainer = _trainer(clock, BarObserver())
    logs = CountingLogs()
    trainer.on_epoch_begin(1)
    for batch in range(1, 5001):
        assert trainer.on_batch_end(1, batch, logs) is False
    assert logs.reads == 0


def test_one_read_per_interval_feeds_the_bar():
    clock = Clock()
    observer = BarObserver()
    trainer = _trainer(clock, observer)
    logs = CountingLogs()
    trainer.on_epoch_begin(1)
    for batch in range(1, 1001):
        clock.now += 0.001  # 1000 batches in one second: four reads at 0.25 s
        trainer.on_batch_end(1, batch, logs)
    assert len(observer.shown) == 4
    assert logs.reads == 4 * 2  # loss and accuracy, once per read
    assert observer.shown[0][2] == {"loss": 0.5, "accuracy": 0.9}


def test_without_a_bar_only_the_loss_is_read():
    clock = Clock()
    trainer = _trainer(clock)  # NullObserver: no batch progress
    logs = CountingLogs()
    trainer.on_epoch_begin(1)
    for batch in range(1, 1001):
        clock.now += 0.001
        trainer.on_batch_end(1, batch, logs)
    assert logs.reads == 4


def test_a_nan_seen_mid_epoch_stops():
    clock = Clock()
    trainer = _trainer(clock)
    trainer.on_epoch_begin(1)
    assert trainer.on_batch_end(1, 1, CountingLogs(float("nan"))) is False  # not read yet
    clock.now += 1.0
    assert trainer.on_batch_end(1, 2, CountingLogs(float("nan"))) is True
    assert trainer.state.stop_reason is StopReason.NON_FINITE
    assert trainer.state.stop_detail == "training loss became nan at epoch 1, batch 2"
    assert trainer.on_epoch_end(1, {"loss": float("nan"), "val_loss": 1.0}) is True
    assert trainer.state.records == []


def test_an_interrupt_is_seen_at_the_next_batch_without_reading():
    clock = Clock()
    guard = InterruptGuard()
    trainer = _trainer(clock, guard=guard)
    logs = CountingLogs()
    trainer.on_epoch_begin(1)
    assert trainer.on_batch_end(1, 1, logs) is False
    guard.request("SIGINT")
    assert trainer.on_batch_end(1, 2, logs) is True
    assert trainer.state.stop_reason is StopReason.INTERRUPTED
    assert logs.reads == 0


def test_stop_listeners_fire_once_and_can_be_removed():
    guard = InterruptGuard()
    trainer = _trainer(Clock(), guard=guard)
    fired: list[str] = []
    remove = trainer.on_stop_request(lambda: fired.append("a"))
    remove_b = trainer.on_stop_request(lambda: fired.append("b"))
    remove_b()
    guard.request("SIGTERM")
    assert fired == ["a"]
    remove()
    late = trainer.on_stop_request(lambda: fired.append("late"))  # asked already: at once
    assert fired == ["a", "late"]
    late()
