"""Learning-rate overrides keep the optimizer's state, also for a LearningRateSchedule."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from plateau_cli.adapters.base import OptimizerState  # noqa: E402
from tests.adapters.keras import builders  # noqa: E402

pytestmark = pytest.mark.keras


class Recorder:
    """An EpochControl that records the learning rate each epoch starts with."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.rates: list[float | None] = []

    def on_epoch_begin(self, epoch: int) -> None:
        self.rates.append(self.handle.learning_rate())

    def on_batch_end(self, epoch: int, batch: int, logs) -> bool:
        return False

    def on_epoch_end(self, epoch: int, logs) -> bool:
        return False


def _slots(optimizer) -> list[np.ndarray]:
    return [np.array(v.numpy()) for v in optimizer.variables if v.path.endswith("_momentum")]


def test_plain_rate_is_assigned_in_place(trained_keras):
    handle = builders.load(trained_keras)
    optimizer = handle.model.optimizer
    before = _slots(optimizer)
    assert handle.set_learning_rate(0.0002) is None
    assert handle.model.optimizer is optimizer
    assert handle.learning_rate() == 0.0002
    assert int(optimizer.iterations) == 8
    for a, b in zip(before, _slots(optimizer), strict=True):
        np.testing.assert_array_equal(a, b)
    data = builders.blobs()
    prepared = handle.prepare(data, 40, seed=0)
    recorder = Recorder(handle)
    handle.fit(prepared, 1, 1, recorder)
    handle.set_learning_rate(0.0001)  # between segments, as a schedule does
    handle.fit(prepared, 2, 1, recorder)
    assert recorder.rates == [0.0002, 0.0001]
    assert int(handle.model.optimizer.iterations) == 8 + 2 * 3


def test_cosine_schedule_is_replaced_keeping_moments_and_steps(cosine_keras, tmp_path):
    handle = builders.load(cosine_keras)
    info = handle.describe().optimizer
    assert info.schedule == "CosineDecay"
    assert info.state is OptimizerState.RESTORED
    assert info.iterations == 12
    schedule = keras.optimizers.schedules.CosineDecay(0.05, decay_steps=40)
    expected = float(schedule(12))
    assert info.learning_rate == pytest.approx(expected, rel=1e-6)
    assert info.hyperparameters["schedule_config"]["decay_steps"] == 40
    moments = _slots(handle.model.optimizer)
    assert any(np.abs(m).sum() > 0 for m in moments)

    note = handle.set_learning_rate(0.003)
    assert note == (
        f"CosineDecay schedule at step 12 (lr {expected:.3g}) replaced by a constant rate 0.003;"
        " moments and step count kept"
    )
    after = handle.describe().optimizer
    assert (after.schedule, after.learning_rate, after.iterations) == (None, 0.003, 12)
    assert note in after.detail
    for a, b in zip(moments, _slots(handle.model.optimizer), strict=True):
        np.testing.assert_array_equal(a, b)
    assert handle.describe().metrics == ("accuracy",)  # the recompile kept the metrics

    assert handle.set_learning_rate(0.001) is None  # now a plain assignment
    data = builders.blobs()
    recorder = Recorder(handle)
    handle.fit(handle.prepare(data, 40, seed=0), 1, 2, recorder)
    assert recorder.rates == [0.001, 0.001]
    assert int(handle.model.optimizer.iterations) == 12 + 2 * 3

    handle.save(tmp_path / "model.keras", epochs_done=2)
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    assert int(reloaded.optimizer.iterations) == 18
    assert float(reloaded.optimizer.learning_rate) == pytest.approx(0.001)
    for a, b in zip(_slots(handle.model.optimizer), _slots(reloaded.optimizer), strict=True):
        np.testing.assert_array_equal(a, b)


def test_schedule_replacement_before_the_optimizer_was_built(tmp_path):
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    model = builders.compiled(builders.mlp(), keras.optimizers.SGD(schedule, momentum=0.9))
    path = builders.save(model, tmp_path / "fresh.keras")
    handle = builders.load(path)
    assert handle.describe().optimizer.schedule == "ExponentialDecay"
    note = handle.set_learning_rate(0.01)
    assert note.startswith("ExponentialDecay schedule at step 0 (lr 0.1) replaced")
    assert handle.describe().optimizer.hyperparameters["momentum"] == pytest.approx(0.9)
    data = builders.blobs()
    handle.fit(handle.prepare(data, 40, seed=0), 1, 1, Recorder(handle))
    assert int(handle.model.optimizer.iterations) == 3


class Stepper(Recorder):
    """Sets the rate at each epoch's start from inside one fit() call, as lr-decay does."""

    def __init__(self, handle, rates: dict[int, float]) -> None:
        super().__init__(handle)
        self.plan = rates

    def on_epoch_begin(self, epoch: int) -> None:
        self.handle.set_learning_rate(self.plan[epoch])
        super().on_epoch_begin(epoch)


def test_rate_changes_inside_one_fit_take_effect(trained_keras):
    handle = builders.load(trained_keras)
    data = builders.blobs()
    stepper = Stepper(handle, {1: 0.01, 2: 0.0, 3: 0.001})
    weights = {}

    def remember(epoch: int, logs) -> bool:
        weights[epoch] = [w.copy() for w in handle.model.get_weights()]
        return False

    stepper.on_epoch_end = remember
    handle.fit(handle.prepare(data, 40, seed=0), 1, 3, stepper)
    assert stepper.rates == [0.01, 0.0, 0.001]
    for before, after in zip(weights[1], weights[2], strict=True):  # lr 0: nothing moves
        np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(a, b) for a, b in zip(weights[2], weights[3], strict=True))


def test_first_schedule_override_inside_fit_is_refused(cosine_keras):
    handle = builders.load(cosine_keras)
    with pytest.raises(RuntimeError, match="must be called once before fit"):
        handle.fit(handle.prepare(builders.blobs(), 40, seed=0), 1, 1, Stepper(handle, {1: 0.1}))
