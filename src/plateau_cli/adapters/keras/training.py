"""`fit` and `evaluate` through Keras' own loops, with the core's EpochControl bridged in.

One `model.fit` call per segment (not one per epoch): a fit call costs a trace check, a
callback list and an iterator set-up, which on a small model is a noticeable share of an epoch.
The bridge callback forwards epoch begin/end and every batch to the control. What Keras 3.15
does with it, read from keras/src/backend/tensorflow/trainer.py:

- `model.stop_training = True` set in `on_train_batch_end` is checked after that batch; Keras
  then still runs the validation pass and `on_epoch_end` for the cut epoch. The bridge sets
  `stop_evaluating` when validation begins after a cut, so an interrupt is not delayed by a
  full validation pass (one batch runs), and still calls the control's `on_epoch_end` for the
  cut epoch: the control knows it asked to stop and does not record that epoch as a result.
- A callback that overrides `on_train_batch_end` turns off Keras' asynchronous callback
  dispatch, so batch logs arrive in order, on this thread, already converted to floats.

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
    """Keras callback -> EpochControl."""

    def __init__(self, control: EpochControl) -> None:
        super().__init__()
        self.control = control
        self.epoch = 0
        self.cut = False

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.epoch = epoch + 1
        self.control.on_epoch_begin(self.epoch)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.control.on_batch_end(self.epoch, batch + 1, canonical_logs(logs)):
            self.cut = True
            self.model.stop_training = True

    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.cut:  # the epoch was cut short: its validation pass is of no use
            self.model.stop_evaluating = True

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.control.on_epoch_end(epoch + 1, canonical_logs(logs)) or self.cut:
            self.model.stop_training = True


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
            callbacks=[ControlBridge(control)],
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
