"""`fit` and `evaluate` through Keras' own loops, with the core's EpochControl bridged in.

One `model.fit` call per segment (not one per epoch): a fit call costs a trace check, a
callback list and an iterator set-up, which on a small model is a noticeable share of an epoch.
What Keras 3.15 does with callbacks, read from keras/src/callbacks/callback_list.py and
keras/src/backend/tensorflow/trainer.py:

- A callback that overrides `on_train_batch_end` turns off Keras' asynchronous callback
  dispatch (on the backends that have it; TensorFlow's never does), and a per-batch bridge
  call, the log conversion and the control's own work cost +17% per epoch on a small MLP. So
  the bridge overrides epoch hooks only. `on_train_batch_begin` does
  not turn dispatch off; the progress bridge uses it (only when a terminal shows a bar) for the
  batch count, and reads the metrics only when the control asks, a few times a second.
- `model.stop_training` is checked after every batch. An interrupt sets it straight from the
  signal handler (`control.on_stop_request`), so stopping needs no per-batch call of ours.
  Keras then still runs the validation pass and `on_epoch_end` for the cut epoch: the bridge
  sets `stop_evaluating` when validation begins after a stop request (one batch runs), and
  tells the control the epoch was cut (an `on_batch_end` that finds the interrupt flag) before
  its `on_epoch_end`, so that epoch is not recorded as a result.
- A NaN loss is seen in the epoch's metrics (the control stops and restores the best weights).

Epochs are 1-based for the control; Keras' are 0-based (`initial_epoch=first_epoch - 1`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import keras
import tensorflow as tf

from plateau_cli.adapters.base import EpochControl
from plateau_cli.adapters.keras.pipeline import Prepared
from plateau_cli.errors import DataMismatchError, ResourceError
from plateau_cli.names import canonical_name


def canonical_logs(logs: Mapping[str, Any] | None, strip_val: bool = False) -> dict[str, float]:
    """Keras log names -> canonical names; nested dicts (`compile_metrics`) flattened."""
    flat: dict[str, float] = {}

    def add(name: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                add(str(key), inner)
            return
        key = canonical_name(name)
        if strip_val and key.startswith("val_"):
            key = key[len("val_") :]
        flat.setdefault(key, float(value))

    for name, value in (logs or {}).items():
        add(str(name), value)
    return flat


class ControlBridge(keras.callbacks.Callback):
    """Keras callback -> EpochControl, with no per-batch work."""

    def __init__(self, control: EpochControl) -> None:
        super().__init__()
        self.control = control
        self.epoch = 0
        #: A stop was requested (interrupt, or the control's answer mid-epoch).
        self.cut = False
        self._remove_listener: Any = None

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        watch = getattr(self.control, "on_stop_request", None)
        if watch is not None:
            self._remove_listener = watch(self._stop_requested)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None

    def _stop_requested(self) -> None:
        """Runs in the signal handler: set flags, nothing else."""
        self.cut = True
        self.model.stop_training = True

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.epoch = epoch + 1
        self.control.on_epoch_begin(self.epoch)

    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.cut:  # the epoch was cut short: its validation pass is of no use
            self.model.stop_evaluating = True

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.cut:
            # Let the control see the stop request first, so the cut epoch is no result.
            self.control.on_batch_end(self.epoch, 0, {})
        if self.control.on_epoch_end(epoch + 1, canonical_logs(logs)) or self.cut:
            self.model.stop_training = True


class ProgressBridge(ControlBridge):
    """ControlBridge plus progress within the epoch, for a live progress bar only.

    `on_train_batch_begin` keeps Keras' asynchronous dispatch; the running metrics are read
    from the model (`get_metrics_result`) only when the control reads `logs`.
    """

    def on_train_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if batch and self.control.on_batch_end(self.epoch, batch, ModelMetrics(self.model)):
            self.cut = True
            self.model.stop_training = True


class ModelMetrics(Mapping[str, float]):
    """The model's running training metrics, read (a synchronisation) only on access."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self._values: dict[str, float] | None = None

    def _read(self) -> dict[str, float]:
        if self._values is None:
            self._values = canonical_logs(self._model.get_metrics_result())
        return self._values

    def __getitem__(self, key: str) -> float:
        return self._read()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())


def bridge_for(control: EpochControl) -> ControlBridge:
    """The progress bridge only where the control shows batch progress (a terminal)."""
    if getattr(control, "batch_progress", False):
        return ProgressBridge(control)
    return ControlBridge(control)


def fit(
    model: Any, prepared: Prepared, first_epoch: int, epochs: int, control: EpochControl
) -> None:
    if epochs <= 0:
        return
    with framework_errors(prepared.batch_size, "training"):
        model.fit(
            prepared.train,
            validation_data=prepared.val,
            initial_epoch=first_epoch - 1,
            epochs=first_epoch - 1 + epochs,
            shuffle=False,  # the pipeline shuffles, with the seed; Keras warns otherwise
            verbose=0,
            callbacks=[bridge_for(control)],
        )


def evaluate(model: Any, prepared: Prepared, split: str) -> dict[str, float]:
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val'; received split={split!r}")
    dataset = prepared.val if split == "val" else prepared.train_eval
    with framework_errors(prepared.batch_size, "evaluating"):
        logs = model.evaluate(dataset, verbose=0, return_dict=True)
    return canonical_logs(logs, strip_val=True)


@contextlib.contextmanager
def framework_errors(batch_size: int | None, doing: str) -> Iterator[None]:
    """Out-of-memory and label-range failures from TensorFlow, as plateau-cli errors."""
    try:
        yield
    except tf.errors.ResourceExhaustedError as exc:
        size = f" with batch size {batch_size}" if batch_size else ""
        smaller = f" (e.g. --batch-size {max(1, batch_size // 2)})" if batch_size else ""
        raise ResourceError(
            f"out of memory while {doing}{size}: {_first_line(exc)}; try a smaller"
            f" --batch-size{smaller}"
        ) from exc
    except tf.errors.InvalidArgumentError as exc:
        if "label value" not in str(exc).lower():
            raise
        raise DataMismatchError(
            f"labels do not fit the model while {doing}: {_first_line(exc)}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else type(exc).__name__
