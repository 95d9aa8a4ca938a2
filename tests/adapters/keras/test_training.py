"""Data pipelines, evaluate, fit with the EpochControl bridge, save, determinism."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from plateau_cli.adapters.keras import pipeline  # noqa: E402
from plateau_cli.adapters.keras.adapter import KerasAdapter  # noqa: E402
from plateau_cli.data.base import ArraySplit, DataBundle  # noqa: E402
from plateau_cli.errors import DataMismatchError, ResourceError  # noqa: E402
from tests.adapters.keras import builders  # noqa: E402

pytestmark = pytest.mark.keras


class Control:
    """Records every call; stops at a chosen (epoch) or (epoch, batch)."""

    def __init__(self, stop_epoch: int | None = None, stop_batch: tuple[int, int] | None = None):
        self.stop_epoch = stop_epoch
        self.stop_batch = stop_batch
        self.begun: list[int] = []
        self.batches: list[tuple[int, int, dict]] = []
        self.ended: list[tuple[int, dict]] = []

    def on_epoch_begin(self, epoch: int) -> None:
        self.begun.append(epoch)

    def on_batch_end(self, epoch: int, batch: int, logs) -> bool:
        self.batches.append((epoch, batch, dict(logs)))
        return (epoch, batch) == self.stop_batch

    def on_epoch_end(self, epoch: int, logs) -> bool:
        self.ended.append((epoch, dict(logs)))
        return epoch == self.stop_epoch


@pytest.fixture
def handle(trained_keras):
    return builders.load(trained_keras)


@pytest.fixture(scope="module")
def data() -> DataBundle:
    return builders.blobs()


class ProgressControl(Control):
    """A control that shows batch progress (a terminal's bar)."""

    batch_progress = True


def test_fit_reports_canonical_logs_with_one_fit_call(handle, data, monkeypatch):
    calls = []
    original = handle.model.fit
    monkeypatch.setattr(handle.model, "fit", lambda *a, **k: calls.append(k) or original(*a, **k))
    prepared = handle.prepare(data, 40, seed=0)
    assert handle.steps_per_epoch(prepared) == 3
    control = Control()
    handle.fit(prepared, 4, 3, control)
    assert len(calls) == 1
    assert (calls[0]["initial_epoch"], calls[0]["epochs"]) == (3, 6)
    assert control.begun == [4, 5, 6]
    assert [e for e, _ in control.ended] == [4, 5, 6]
    assert set(control.ended[0][1]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert control.batches == []  # no per-batch call without a progress bar
    assert int(handle.model.optimizer.iterations) == 8 + 9


def test_the_bridge_has_no_batch_end_hook():
    """A batch-end hook turns off Keras' asynchronous dispatch (on backends that have it) and
    converts every batch's logs for us: the bridges override none."""
    from keras.src.utils import is_default

    from plateau_cli.adapters.keras.training import bridge_for

    for control in (Control(), ProgressControl()):
        bridge = bridge_for(control)
        for hook in ("on_batch_end", "on_train_batch_end", "on_test_batch_end"):
            assert is_default(getattr(bridge, hook)), hook


def test_progress_calls_come_with_lazy_running_metrics(handle, data):
    prepared = handle.prepare(data, 40, seed=0)
    control = ProgressControl()
    handle.fit(prepared, 1, 2, control)
    # Three batches per epoch: progress after the first and the second (the third is the
    # epoch's end, reported by on_epoch_end).
    assert [(e, b) for e, b, _ in control.batches] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert set(control.batches[0][2]) == {"loss", "accuracy"}


def test_fit_stops_when_the_control_says_so(handle, data):
    prepared = handle.prepare(data, 40, seed=0)
    control = Control(stop_epoch=2)
    handle.fit(prepared, 1, 5, control)
    assert control.begun == [1, 2]
    assert int(handle.model.optimizer.iterations) == 8 + 6

    control = ProgressControl(stop_batch=(3, 2))
    handle.fit(prepared, 3, 5, control)
    assert control.begun == [3]
    assert int(handle.model.optimizer.iterations) == 8 + 6 + 3  # asked before the 3rd batch
    assert [e for e, _ in control.ended] == [3]  # told, so it can decide the epoch is partial
    assert control.batches[-1][:2] == (3, 0)  # the cut is reported before the epoch's end


def test_an_interrupt_stops_keras_through_its_own_flag(handle, data):
    from plateau_cli.run.interrupt import InterruptGuard

    guard = InterruptGuard()

    class Watched(Control):
        def on_stop_request(self, callback):
            return guard.add_listener(callback)

        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                guard.request("SIGINT")  # during the first epoch's end: no second epoch
            return super().on_epoch_end(epoch, logs)

    prepared = handle.prepare(data, 40, seed=0)
    control = Watched()
    handle.fit(prepared, 1, 5, control)
    assert control.begun == [1]
    assert int(handle.model.optimizer.iterations) == 8 + 3
    guard_listeners = guard._listeners
    assert guard_listeners == []  # removed when fit ended

    again = Watched()  # a stop asked before fit: one batch runs, then Keras stops
    handle.fit(prepared, 2, 3, again)
    assert int(handle.model.optimizer.iterations) == 8 + 3 + 1
    assert again.batches == [(2, 0, {})]  # the cut epoch is reported as cut


def test_train_transform_applies_to_training_batches_only(handle, data):
    handle.train_transform = lambda x, y: (x + 1000.0, y)
    prepared = handle.prepare(data, 40, seed=0)
    train_batches = list(prepared.train.as_numpy_iterator())
    assert all(x.min() > 500 for x, _ in train_batches)
    val_x = np.concatenate([x for x, _ in prepared.val.as_numpy_iterator()])
    val_y = np.concatenate([y for _, y in prepared.val.as_numpy_iterator()])
    assert val_x.tobytes() == data.val.x.tobytes()
    assert val_y.tobytes() == data.val.y.tobytes()
    eval_x = np.concatenate([x for x, _ in prepared.train_eval.as_numpy_iterator()])
    assert eval_x.tobytes() == data.train.x.tobytes()


def test_integer_features_are_cast_per_batch(handle):
    x = np.arange(40 * 8).reshape(40, 8).astype(np.uint8)
    bundle = DataBundle(
        ArraySplit(x, np.zeros(40, "int64")), ArraySplit(x, np.zeros(40)), "npz", "u"
    )
    prepared = handle.prepare(bundle, 16, seed=0)
    batch = next(prepared.val.as_numpy_iterator())[0]
    assert batch.dtype == np.float32
    np.testing.assert_array_equal(batch, x[:16].astype(np.float32))
    assert set(handle.evaluate(prepared)) == {"loss", "accuracy"}


def test_training_batches_are_reshuffled_each_epoch_with_the_seed(handle, data):
    def order(seed: int) -> list[np.ndarray]:
        dataset = handle.prepare(data, 200, seed=seed).train
        return [next(dataset.as_numpy_iterator())[1] for _ in range(2)]

    first, second = order(3), order(3)
    assert not np.array_equal(first[0], first[1])  # a new order every epoch
    np.testing.assert_array_equal(first[0], second[0])  # the same orders for the same seed
    np.testing.assert_array_equal(first[1], second[1])
    assert sorted(first[0].tolist()) == sorted(data.train.y.tolist())


def test_evaluate_and_plain_keras_agree_after_save(handle, data, tmp_path):
    prepared = handle.prepare(data, 40, seed=0)
    handle.fit(prepared, 1, 1, Control())
    ours = handle.evaluate(prepared)
    assert set(ours) == {"loss", "accuracy"}
    assert set(handle.evaluate(prepared, "train")) == {"loss", "accuracy"}
    out = tmp_path / "out" / "model.keras"
    handle.save(out, epochs_done=1)
    assert [p.name for p in out.parent.iterdir()] == ["model.keras"]  # no temporary left
    plain = keras.models.load_model(out)
    assert int(plain.optimizer.iterations) == 8 + 3
    theirs = plain.evaluate(data.val.x, data.val.y, batch_size=40, return_dict=True, verbose=0)
    assert theirs["loss"] == pytest.approx(ours["loss"], rel=1e-6)
    assert theirs["accuracy"] == pytest.approx(ours["accuracy"])
    assert handle.checkpoint_name() == "model.keras"


def test_h5_input_is_saved_as_keras_v3(trained_h5, tmp_path):
    handle = builders.load(trained_h5)
    handle.save(tmp_path / "model.keras", epochs_done=0)
    reloaded = keras.models.load_model(tmp_path / "model.keras")
    assert int(reloaded.optimizer.iterations) == 8


def test_snapshot_and_restore(handle, data):
    snapshot = handle.snapshot()
    prepared = handle.prepare(data, 40, seed=0)
    before = handle.evaluate(prepared)
    handle.fit(prepared, 1, 2, Control())
    assert handle.evaluate(prepared)["loss"] != before["loss"]
    handle.restore(snapshot)
    assert handle.evaluate(prepared)["loss"] == pytest.approx(before["loss"], rel=1e-7)


def test_native_tf_data_passes_through(handle, data):
    train = tf.data.Dataset.from_tensor_slices((data.train.x, data.train.y))  # unbatched
    val = tf.data.Dataset.from_tensor_slices((data.val.x, data.val.y)).batch(16)
    bundle = DataBundle(train, val, "entry-point", "mod:fn")
    handle.check_data(bundle)
    prepared = handle.prepare(bundle, 40, seed=0)
    assert handle.steps_per_epoch(prepared) == 3
    control = Control()
    handle.fit(prepared, 1, 1, control)
    assert set(control.ended[0][1]) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_data_that_does_not_fit_is_refused(handle, data):
    wide = DataBundle(
        ArraySplit(np.zeros((8, 9), "float32"), np.zeros(8, "int64")), data.val, "npz", "w.npz"
    )
    with pytest.raises(DataMismatchError, match=r"\(9\)|9"):
        handle.check_data(wide)
    with pytest.raises(DataMismatchError) as caught:
        pipeline.probe(handle.model, wide)
    assert "samples of shape (9), the model expects (8)" in str(caught.value)
    bad = tf.data.Dataset.from_tensor_slices((np.zeros((8, 9), "float32"), np.zeros(8))).batch(4)
    bundle = DataBundle(bad, bad, "entry-point", "mod:fn")
    with pytest.raises(DataMismatchError, match="9"):
        pipeline.check_dataset_shapes(bundle, (8,))
    with pytest.raises(DataMismatchError, match=r"a Keras model needs a tf\.data\.Dataset"):
        handle.prepare(replace(bundle, train=[1, 2, 3]), 4, 0)


def test_out_of_memory_becomes_a_resource_error(handle, data, monkeypatch):
    def exhausted(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    monkeypatch.setattr(handle.model, "fit", exhausted)
    with pytest.raises(ResourceError) as caught:
        handle.fit(handle.prepare(data, 64, seed=0), 1, 1, Control())
    assert str(caught.value) == (
        "out of memory while training with batch size 64: OOM when allocating tensor; try a"
        " smaller --batch-size (e.g. --batch-size 32)"
    )


def _losses(path, data, seed: int) -> list[float]:
    KerasAdapter.seed(seed)
    handle = builders.load(path)
    handle.train_transform = lambda x, y: (x + tf.random.normal(tf.shape(x), stddev=0.1), y)
    control = Control()
    handle.fit(handle.prepare(data, 16, seed=seed), 1, 2, control)
    return [logs["loss"] for _, logs in control.ended] + [
        logs["val_loss"] for _, logs in control.ended
    ]


def test_same_seed_same_numbers(trained_keras, data):
    first = _losses(trained_keras, data, 7)
    assert first == _losses(trained_keras, data, 7)
    assert first != _losses(trained_keras, data, 8)
